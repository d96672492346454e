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
	var apiErr *pubnub.Error
	var tErr *pubnub.TransportError
	var msg string
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
	case errors.Is(err, errNotOurs):
		msg = strings.TrimPrefix(err.Error(), errNotOurs.Error()+": ")
	case errors.Is(err, errUnexpectedAnswer), errors.Is(err, pubnub.ErrInvalidArgument):
		msg = err.Error()
	default:
		msg = "internal error; see the service logs"
	}
	return scrubKeys(msg)
}

func transportCause(e *pubnub.TransportError) string {
	if e.StatusCode != 0 {
		return fmt.Sprintf("undecodable %d answer", e.StatusCode)
	}
	s := e.Error()
	switch {
	case strings.Contains(s, "timed out"), strings.Contains(s, "Client.Timeout"), strings.Contains(s, "deadline exceeded"), strings.Contains(s, "timeout"):
		return "timed out"
	case strings.Contains(s, "connection refused"):
		return "connection refused"
	case strings.Contains(s, "EOF"), strings.Contains(s, "reset"):
		return "connection lost"
	}
	return "connection failed"
}

// scrubKeys removes anything that looks like a PubNub key, in case an answer echoes one: what
// follows "sec-c-", "pub-c-" or "sub-c-" up to the next character a key cannot hold.
func scrubKeys(s string) string {
	var b strings.Builder
	for {
		i := indexKeyPrefix(s)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i+len("sec-c-")])
		b.WriteString("…")
		s = s[i+len("sec-c-"):]
		s = strings.TrimLeftFunc(s, func(r rune) bool {
			return r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_-=+/", r))
		})
	}
}

func indexKeyPrefix(s string) int {
	first := -1
	for _, p := range []string{"sec-c-", "pub-c-", "sub-c-"} {
		if i := strings.Index(s, p); i >= 0 && (first < 0 || i < first) {
			first = i
		}
	}
	return first
}
