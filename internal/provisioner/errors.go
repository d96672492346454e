package provisioner

import (
	"errors"
	"fmt"
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
