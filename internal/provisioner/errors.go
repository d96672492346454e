package provisioner

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/pnonboard/pnonboard/internal/pubnub"
)

// publicMessage is what a tenant's lastError and timeline say about an error: the upstream
// operation, status and PubNub's own words, never our internals or anything key-like.
func publicMessage(err error) string {
	var (
		apiErr *pubnub.Error
		tErr   *pubnub.TransportError
		theirs *notOursError
		msg    string
	)
	switch {
	case errors.As(err, &apiErr):
		msg = fmt.Sprintf("PubNub refused %s with %d", apiErr.Op, apiErr.StatusCode)
		if apiErr.Body.Error != "" {
			msg += " " + apiErr.Body.Error
		}
		if len(apiErr.Body.Message) > 0 {
			msg += ": " + strings.Join(apiErr.Body.Message, "; ")
		}
		if rows := permissionRows(apiErr); apiErr.StatusCode == http.StatusForbidden && len(rows) > 0 {
			what := "the permission row " + rows[0]
			if len(rows) > 1 {
				what = "the permission rows " + strings.Join(rows, " and ")
			}
			msg += ". To fix: give the PubNub Service Integration key " + what +
				" (PubNub Admin Portal, Service Integrations), or set PNONBOARD_PUBNUB_API_KEY to a key" +
				" that has them; then retry the tenant. `server doctor` checks every row pnonboard needs"
			if slices.Contains(apiErr.PermissionResources(), pubnub.ResourceOEMCustomer) {
				msg += "; if the key has the row, the account may not be enabled for OEM customers: ask PubNub"
			}
		}
	case errors.As(err, &tErr):
		msg = fmt.Sprintf("no answer from PubNub to %s (%s)", tErr.Op, transportCause(tErr))
	case errors.As(err, &theirs):
		msg = theirs.msg
	case errors.Is(err, errUnexpectedAnswer), errors.Is(err, pubnub.ErrInvalidArgument):
		msg = err.Error()
	default:
		msg = "internal error; see the service logs"
	}
	return pubnub.RedactKeys(msg)
}

// permissionRows names the Service Integration permission rows a refused call needs, as
// pnonboard needs them: read and write at account level (usage: read), since pnonboard writes
// everything it reads, and an app or keyset row would not cover the tenants still to come.
func permissionRows(e *pubnub.Error) []string {
	var rows []string
	for _, res := range e.PermissionResources() {
		access := "rw"
		if res == pubnub.ResourceUsage {
			access = "r"
		}
		rows = append(rows, "account:"+res+":"+access)
	}
	return rows
}

func transportCause(e *pubnub.TransportError) string {
	switch {
	case e.StatusCode != 0:
		return fmt.Sprintf("undecodable %d answer", e.StatusCode)
	case e.Timeout():
		return "timed out"
	case e.Refused():
		return "connection refused"
	case e.Lost():
		return "connection lost"
	}
	return "connection failed"
}
