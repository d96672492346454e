package pubnub

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// flexID decodes an ID that the API sends as a JSON string in some places
// and a JSON number in others (apps and keysets are strings in /v2/apps and
// /v2/keysets, numbers in /v2/oem). null decodes as "".
type flexID string

// UnmarshalJSON accepts a string, a number or null.
func (id *flexID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		*id = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*id = flexID(s)
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("id must be a string or a number: %w", err)
		}
		*id = flexID(n.String())
	}
	return nil
}

// flexTime decodes a timestamp leniently. Timestamps are informational, so
// an unexpected format decodes as the zero time rather than failing the
// whole answer (a failed create answer would lose a secret key). Accepted:
// RFC 3339 with or without fraction or zone, a date, or Unix seconds or
// milliseconds as a number.
type flexTime time.Time

// UnmarshalJSON never fails on a well-formed JSON value.
func (t *flexTime) UnmarshalJSON(b []byte) error {
	*t = flexTime{}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n float64
		if json.Unmarshal(b, &n) == nil && n > 0 {
			if n > 1e12 { // milliseconds
				*t = flexTime(time.UnixMilli(int64(n)).UTC())
			} else {
				*t = flexTime(time.Unix(int64(n), 0).UTC())
			}
		}
		return nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", time.DateOnly} {
		if parsed, err := time.Parse(layout, s); err == nil {
			*t = flexTime(parsed)
			return nil
		}
	}
	return nil
}

func (t flexTime) time() time.Time { return time.Time(t) }

// pathSegment escapes an ID for use as one path segment, refusing the
// values that would address another resource ("" would turn GET
// /apps/{id} into a list call).
func pathSegment(op, what, id string) (string, error) {
	if id == "" || id == "." || id == ".." {
		return "", fmt.Errorf("pubnub: %s: %s %q: %w", op, what, id, ErrInvalidArgument)
	}
	return url.PathEscape(id), nil
}

// numericID converts a keyset or app ID to the JSON number the OEM
// endpoints take, refusing anything that is not a positive integer.
func numericID(op, what, id string) (int64, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("pubnub: %s: %s %q is not numeric, as OEM endpoints require: %w", op, what, id, ErrInvalidArgument)
	}
	return n, nil
}
