package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strings"
)

// maxBodyBytes bounds request bodies; larger ones get 413, as a real API
// gateway would refuse them.
const maxBodyBytes = 1 << 20

// result is what an endpoint answers: a status and a value to encode as JSON.
// Endpoints return results instead of writing to the ResponseWriter so that
// the pipeline can run an endpoint and then throw its answer away (the "lost"
// and "timeout" faults).
type result struct {
	status int
	body   any
	// save is the snapshot of the change this request made, to be written
	// to the state file before the answer (nil: no change, or not durable).
	save *pendingSave
}

// errorBody is PubNub's documented error schema. message is always an array.
type errorBody struct {
	StatusCode int      `json:"statusCode"`
	Error      string   `json:"error"`
	Message    []string `json:"message"`
}

// success answers status with body.
func success(status int, body any) result { return result{status: status, body: body} }

// errorResult answers in PubNub's error format, whose "error" is a name
// without spaces such as "BadRequest" or "NotFound".
func errorResult(status int, messages ...string) result {
	return result{status: status, body: errorBody{StatusCode: status, Error: errorName(status), Message: nonNil(messages)}}
}

// nestErrorBody is the variant the usage-metrics endpoint is documented
// with, fields in the documented order: "error" is the HTTP reason phrase
// ("Bad Request").
type nestErrorBody struct {
	StatusCode int      `json:"statusCode"`
	Message    []string `json:"message"`
	Error      string   `json:"error"`
}

// nestErrorResult answers in the usage endpoint's error variant.
func nestErrorResult(status int, messages ...string) result {
	return result{status: status, body: nestErrorBody{StatusCode: status, Message: nonNil(messages), Error: http.StatusText(status)}}
}

func nonNil(messages []string) []string {
	if messages == nil {
		return []string{}
	}
	return messages
}

// errorName maps a status to the "error" value of PubNub's error body. The
// documented names are BadRequest, Unauthorized, Forbidden, NotFound and
// InternalError; the others follow the same pattern.
func errorName(status int) string {
	switch status {
	case http.StatusInternalServerError:
		return "InternalError"
	case http.StatusTooManyRequests:
		return "TooManyRequests"
	}
	return strings.ReplaceAll(http.StatusText(status), " ", "")
}

// write encodes res into a buffer first, so that an encoding failure can
// still become a clean 500, then writes headers and body. It returns the
// status written.
func write(w http.ResponseWriter, res result) int {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(res.body); err != nil {
		res = errorResult(http.StatusInternalServerError, "sandbox could not encode its response")
		buf.Reset()
		_ = json.NewEncoder(&buf).Encode(res.body)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(res.status)
	_, _ = w.Write(buf.Bytes())
	return res.status
}

// decodeBody decodes a JSON request body into dst, strictly: a non-JSON
// Content-Type, malformed JSON, a wrong type, an unknown property or trailing
// data all give 400, and a body over maxBodyBytes gives 413. An empty body
// decodes as {} (Express's JSON parser does the same), so endpoints whose
// body is optional accept a bare POST.
//
// [U] Unknown properties are refused (NestJS's forbidNonWhitelisted): the
// strictest plausible reading, and the one that catches misspelt fields.
func decodeBody(r *http.Request, dst any) (result, bool) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return errorResult(http.StatusBadRequest, "request body could not be read"), false
	}
	if len(raw) > maxBodyBytes {
		return errorResult(http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is larger than %d bytes", maxBodyBytes)), false
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		raw = []byte("{}")
	} else if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return errorResult(http.StatusBadRequest, "Content-Type must be application/json"), false
	}
	if name, ok := unknownProperty(raw, reflect.TypeOf(dst)); ok {
		return errorResult(http.StatusBadRequest, fmt.Sprintf("property %s should not exist", name)), false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return errorResult(http.StatusBadRequest, decodeMessage(err)), false
	}
	if dec.More() {
		return errorResult(http.StatusBadRequest, "request body must hold a single JSON object"), false
	}
	return result{}, true
}

// decodeMessage turns a JSON decoding error into a message in the style of
// PubNub's NestJS validation messages, without Go type names.
func decodeMessage(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		if typeErr.Field == "" {
			return "request body must be a JSON object"
		}
		return fmt.Sprintf("%s must be %s", typeErr.Field, jsonKind(typeErr.Type.String()))
	}
	return "request body is not valid JSON"
}

// wrapper is a type that decodes itself around another (optional[T]): unknownProperty looks
// at the other.
type wrapper interface{ wrapped() reflect.Type }

// unknownProperty finds the first member of the JSON object raw that type t does not declare
// (by its json tags, as encoding/json matches them: exactly, then case-insensitively),
// walking into structs, pointers, slices and maps; a type that decodes itself checks its own
// members. It returns the member's name.
func unknownProperty(raw []byte, t reflect.Type) (string, bool) {
	if w, ok := reflect.Zero(t).Interface().(wrapper); ok {
		return unknownProperty(raw, w.wrapped())
	}
	unmarshalerType := reflect.TypeFor[json.Unmarshaler]()
	for t.Kind() == reflect.Pointer {
		if t.Implements(unmarshalerType) {
			return "", false
		}
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return "", false
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) != nil {
			return "", false
		}
		for _, it := range items {
			if name, ok := unknownProperty(it, t.Elem()); ok {
				return name, true
			}
		}
	case reflect.Map:
		var members map[string]json.RawMessage
		if json.Unmarshal(raw, &members) != nil {
			return "", false
		}
		for _, v := range members {
			if name, ok := unknownProperty(v, t.Elem()); ok {
				return name, true
			}
		}
	case reflect.Struct:
		var members map[string]json.RawMessage
		if json.Unmarshal(raw, &members) != nil {
			return "", false
		}
		fields := map[string]reflect.Type{}
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			fields[name] = f.Type
		}
		names := make([]string, 0, len(members))
		for name := range members {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			ft, ok := fields[name]
			if !ok {
				for known, t := range fields {
					if strings.EqualFold(known, name) {
						ft, ok = t, true
					}
				}
			}
			if !ok {
				return name, true
			}
			if inner, ok := unknownProperty(members[name], ft); ok {
				return inner, true
			}
		}
	}
	return "", false
}

// jsonKind names the JSON kind a Go type expects, for error messages.
func jsonKind(goType string) string {
	switch {
	case goType == "bool":
		return "a boolean"
	case goType == "string":
		return "a string"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "float"):
		return "a number"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	default:
		return "an object"
	}
}
