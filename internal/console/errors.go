package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/pnonboard/pnonboard/internal/invalid"
	"github.com/pnonboard/pnonboard/internal/tenants"
	"github.com/pnonboard/pnonboard/internal/tokens"
	"github.com/pnonboard/pnonboard/internal/webhooks"
)

var errNoTemplate = errors.New("console: page has no template")

// errorView is the error page's data.
type errorView struct {
	Status  int
	Message string
	Fields  []string
}

// describe is the one place errors become what a person reads: a status and a sentence. The
// sentences are fixed text or built from typed fields, never an error's own message, which
// may carry internal detail. ok is false for errors that are not the person's to fix:
// those are logged and shown as a bare 500.
func describe(err error) (status int, msg string, ok bool) {
	var (
		state        *tenants.StateError
		param        *paramError
		notRevocable *tokens.NotRevocableError
		upstream     *tokens.UpstreamError
	)
	switch {
	case errors.As(err, &state):
		msg := fmt.Sprintf("Cannot %s the tenant: it is %s", state.Action, state.Current)
		if state.Reason != "" {
			msg += " and " + state.Reason
		}
		return http.StatusConflict, msg + ".", true
	case errors.As(err, &param):
		return http.StatusBadRequest, "Some of this page's parameters are not valid.", true
	case errors.Is(err, tenants.ErrNotFound):
		return http.StatusNotFound, "No tenant has this externalId.", true
	case errors.Is(err, tokens.ErrTokenNotFound):
		return http.StatusNotFound, "This tenant has no live token with this ID (it may have expired).", true
	case errors.As(err, &notRevocable):
		if notRevocable.Reason == tokens.ReasonTTLTooLong {
			return http.StatusConflict, fmt.Sprintf("PubNub revokes only tokens with a TTL of at most 30 days; this one has %d minutes. It ends at its expiry.", notRevocable.TTL), true
		}
		return http.StatusConflict, fmt.Sprintf("The %s keyset has token revoke off, so PubNub cannot revoke its tokens; they end at their expiry.", notRevocable.Environment), true
	case errors.As(err, &upstream):
		if upstream.Refused() {
			// Access Manager's own words: never a key or a token (see tokens.UpstreamError.Message).
			return http.StatusBadGateway, fmt.Sprintf("PubNub Access Manager refused the %s (%d): %s", upstream.Op, upstream.Status(), upstream.Message()), true
		}
		return http.StatusServiceUnavailable, fmt.Sprintf("PubNub Access Manager did not answer the %s after %d attempts; try again in a moment.", upstream.Op, upstream.Attempts), true
	case errors.Is(err, webhooks.ErrEndpointNotFound):
		return http.StatusNotFound, "No webhook endpoint has this ID.", true
	case errors.Is(err, webhooks.ErrDeliveryNotFound):
		return http.StatusNotFound, "This endpoint has no delivery with this ID.", true
	case errors.Is(err, invalid.ErrCursor), errors.Is(err, errBadTimelineCursor):
		return http.StatusBadRequest, "This page link is out of date; start again from the first page.", true
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, "This took too long; try again in a moment.", true
	}
	return http.StatusInternalServerError, "Something went wrong. The request ID below identifies it in our logs.", false
}

// errorPage is the page shown for err.
func (c *Console) errorPage(ctx context.Context, err error) *page {
	status, msg, ok := describe(err)
	if !ok {
		c.logger.ErrorContext(ctx, "console page failed", "err", err)
	}
	v := errorView{Status: status, Message: msg}
	var param *paramError
	if errors.As(err, &param) {
		for f, m := range param.fields {
			v.Fields = append(v.Fields, f+" "+m)
		}
		sort.Strings(v.Fields)
	}
	return &page{name: "error", title: strings.TrimSpace(http.StatusText(status)), status: status, data: v}
}

// forbidden is the page for a key that lacks what a page needs.
func forbidden(msg string) *page {
	return &page{name: "error", title: "Not allowed", status: http.StatusForbidden,
		data: errorView{Status: http.StatusForbidden, Message: msg}}
}

// notFound answers paths under the console that are no page.
func (c *Console) notFound(_ context.Context, _ *user, _ *struct{}) (*page, error) {
	return &page{name: "error", title: "Not found", status: http.StatusNotFound,
		data: errorView{Status: http.StatusNotFound, Message: "There is no such page in the console."}}, nil
}
