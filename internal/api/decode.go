package api

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// This file is the one decoding layer for request bodies. encoding/json alone is too lax for
// a public API: it matches field names without regard to case, keeps the last of duplicated
// members, and turns invalid UTF-8 and lone surrogates into U+FFFD without a word. So every
// body is first checked by checkJSON, a strict scan of the raw bytes guided by the Go type it
// will fill, and only a body that passes is handed to encoding/json.
//
// The rules, for every string in a body (member names included) and every path and query
// parameter (params.go):
//   - valid UTF-8, with no lone surrogate escapes (\ud800);
//   - no control characters: U+0000–U+001F and U+007F–U+009F, so no NUL, no ANSI escapes, and
//     no tabs or newlines either (no field of this API is multi-line text);
//   - lengths are counted in Unicode code points, as JSON Schema's maxLength counts them.
//
// And for a body: exactly one JSON object; member names exactly as the contract spells them
// (unknown or differently cased → 422 naming the member); a member given twice → 400; no null
// where the contract wants a value.

// maxDepth bounds nesting; no request body of this API nests more than three levels.
const maxDepth = 32

// decodeJSON reads a JSON object from r's body into dst: at most limit bytes (413 beyond), a
// JSON content type (415 otherwise), well-formed JSON holding one object (400 otherwise),
// passing checkJSON's rules (400 or 422). An empty body is io.EOF, for callers whose body is
// optional.
func decodeJSON(w http.ResponseWriter, r *http.Request, dst any, limit int64) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return errorf(http.StatusUnsupportedMediaType, "unsupported_media_type",
				"send the body as application/json (got %q)", ct)
		}
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errorf(http.StatusRequestEntityTooLarge, "body_too_large", "the body exceeds %d bytes", limit)
		}
		return errorf(http.StatusBadRequest, "malformed_json", "the body could not be read")
	}
	return unmarshalStrict(data, dst)
}

// unmarshalStrict is decodeJSON without the HTTP: checkJSON, then encoding/json.
func unmarshalStrict(data []byte, dst any) error {
	if len(bytes.TrimLeft(data, " \t\r\n")) == 0 {
		return io.EOF
	}
	if err := checkJSON(data, reflect.TypeOf(dst)); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		// checkJSON has vetted names, kinds and syntax; this is a backstop.
		return decodeError(err)
	}
	return nil
}

func decodeError(err error) error {
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) && typ.Field != "" {
		return validationError(map[string]string{typ.Field: "must be " + jsonKind(typ.Type.Kind())})
	}
	return errorf(http.StatusBadRequest, "malformed_json", "the body is not valid JSON")
}

func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "of another type"
}

// textProblem says what is wrong with s as text on this API ("" when nothing is): it must be
// valid UTF-8 without control characters.
func textProblem(s string) string {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return msgBadUTF8
			}
		}
		if unicode.IsControl(r) {
			return msgControl
		}
	}
	return ""
}

// The messages of the text rules, one wording each.
const (
	msgBadUTF8   = "must be valid UTF-8 text"
	msgSurrogate = "must be valid Unicode text (it holds a lone surrogate escape)"
	msgControl   = "must not contain control characters (U+0000 to U+001F, U+007F to U+009F)"
	msgBlank     = "must not be empty or only white space"
)

// textLen is a string's length as JSON Schema's maxLength counts it: in code points.
func textLen(s string) int { return utf8.RuneCountInString(s) }

// blank reports whether s is empty or only (Unicode) white space.
func blank(s string) bool { return strings.TrimSpace(s) == "" }

// syntaxError is a body that is not acceptable JSON at all: a 400.
type syntaxError struct{ detail string }

func (e *syntaxError) Error() string { return e.detail }

// checkJSON scans data as one JSON value to be decoded into a value of type t (a pointer to a
// struct for every body of this API). It returns a 400 *Error for malformed JSON or a
// duplicated member, a 422 naming every bad field, or nil.
func checkJSON(data []byte, t reflect.Type) (err error) {
	c := &jsonChecker{data: data, fields: map[string]string{}}
	defer func() {
		if v := recover(); v != nil {
			se, ok := v.(*syntaxError)
			if !ok {
				panic(v)
			}
			err = errorf(http.StatusBadRequest, "malformed_json", "%s", se.detail)
		}
	}()
	c.skipSpace()
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t != nil && t.Kind() == reflect.Struct && c.peek() != '{' {
		c.fail("the body must be a JSON object")
	}
	c.value("", t)
	c.skipSpace()
	if c.i < len(c.data) {
		c.fail("the body must hold exactly one JSON object")
	}
	if len(c.fields) > 0 {
		return validationError(c.fields)
	}
	return nil
}

// jsonChecker is a recursive-descent reader of RFC 8259 JSON. Syntax errors panic with a
// *syntaxError (recovered by checkJSON); field problems are collected in fields.
type jsonChecker struct {
	data   []byte
	i      int
	depth  int
	fields map[string]string
}

func (c *jsonChecker) fail(format string, args ...any) {
	panic(&syntaxError{detail: fmt.Sprintf(format, args...)})
}

// bad records the first problem of a field.
func (c *jsonChecker) bad(path, msg string) {
	if path == "" {
		path = "body"
	}
	if _, ok := c.fields[path]; !ok {
		c.fields[path] = msg
	}
}

func (c *jsonChecker) peek() byte {
	if c.i >= len(c.data) {
		return 0
	}
	return c.data[c.i]
}

func (c *jsonChecker) skipSpace() {
	for c.i < len(c.data) {
		switch c.data[c.i] {
		case ' ', '\t', '\r', '\n':
			c.i++
		default:
			return
		}
	}
}

// value reads one value at path, expected to fit t (nil: anything, e.g. an unknown member's).
func (c *jsonChecker) value(path string, t reflect.Type) {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	c.skipSpace()
	if c.i >= len(c.data) {
		c.fail("the body is not valid JSON: it ends early")
	}
	kind := reflect.Invalid // what the JSON holds, in Go's terms
	switch ch := c.data[c.i]; {
	case ch == '{':
		kind = reflect.Map
		c.object(path, t)
	case ch == '[':
		kind = reflect.Slice
		c.array(path, t)
	case ch == '"':
		kind = reflect.String
		s, problem := c.str()
		if problem == "" {
			problem = textProblem(s)
		}
		if problem != "" {
			c.bad(path, problem)
		}
	case ch == 't':
		kind = reflect.Bool
		c.literal("true")
	case ch == 'f':
		kind = reflect.Bool
		c.literal("false")
	case ch == 'n':
		c.literal("null")
		if t != nil && t.Kind() != reflect.Interface {
			c.bad(path, "must be "+jsonKind(t.Kind())+", not null")
		}
		return
	case ch == '-' || ch >= '0' && ch <= '9':
		kind = reflect.Float64
		c.number()
	default:
		c.fail("the body is not valid JSON: unexpected %q at byte %d", ch, c.i)
	}
	if t != nil && !fits(kind, t.Kind()) {
		c.bad(path, "must be "+jsonKind(t.Kind()))
	}
}

// fits reports whether a JSON value of kind (Map for objects, Slice for arrays, Float64 for
// numbers) can fill a Go value of kind want.
func fits(kind, want reflect.Kind) bool {
	switch want {
	case reflect.Interface:
		return true
	case reflect.Struct, reflect.Map:
		return kind == reflect.Map
	case reflect.Slice, reflect.Array:
		return kind == reflect.Slice
	case reflect.String, reflect.Bool:
		return kind == want
	}
	return kind == reflect.Float64 && jsonKind(want) == "a number"
}

func (c *jsonChecker) enter() {
	c.depth++
	if c.depth > maxDepth {
		c.fail("the body nests deeper than %d levels", maxDepth)
	}
}

func (c *jsonChecker) object(path string, t reflect.Type) {
	c.enter()
	defer func() { c.depth-- }()
	c.i++ // {
	var fields map[string]reflect.Type
	var names []string
	if t != nil && t.Kind() == reflect.Struct {
		fields, names = structFields(t)
	}
	seen := map[string]bool{}
	c.skipSpace()
	if c.peek() == '}' {
		c.i++
		return
	}
	for {
		c.skipSpace()
		if c.peek() != '"' {
			c.fail("the body is not valid JSON: expected a member name at byte %d", c.i)
		}
		name, problem := c.str()
		if seen[name] {
			c.fail("the member %q appears twice in %s", name, cmp.Or(path, "the body"))
		}
		seen[name] = true
		if problem == "" {
			problem = textProblem(name)
		}
		c.skipSpace()
		if c.peek() != ':' {
			c.fail("the body is not valid JSON: expected ':' at byte %d", c.i)
		}
		c.i++
		var elem reflect.Type
		var child string
		switch {
		case t != nil && t.Kind() == reflect.Struct:
			child = join(path, name)
			ft, known := fields[name]
			switch {
			case problem != "":
				c.bad(cmp.Or(path, "body"), "member name "+strconv.QuoteToASCII(name)+": "+problem)
			case !known:
				c.bad(child, unknownField(name, names))
			}
			elem = ft
		case t != nil && t.Kind() == reflect.Map:
			child = path + "." + name
			if problem != "" {
				c.bad(cmp.Or(path, "body"), "key "+strconv.QuoteToASCII(name)+": "+problem)
			}
			elem = t.Elem()
		default:
			child = join(path, name)
		}
		c.value(child, elem)
		c.skipSpace()
		switch c.peek() {
		case ',':
			c.i++
		case '}':
			c.i++
			return
		default:
			c.fail("the body is not valid JSON: expected ',' or '}' at byte %d", c.i)
		}
	}
}

func (c *jsonChecker) array(path string, t reflect.Type) {
	c.enter()
	defer func() { c.depth-- }()
	c.i++ // [
	var elem reflect.Type
	if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
		elem = t.Elem()
	}
	c.skipSpace()
	if c.peek() == ']' {
		c.i++
		return
	}
	for n := 0; ; n++ {
		c.value(fmt.Sprintf("%s[%d]", path, n), elem)
		c.skipSpace()
		switch c.peek() {
		case ',':
			c.i++
		case ']':
			c.i++
			return
		default:
			c.fail("the body is not valid JSON: expected ',' or ']' at byte %d", c.i)
		}
	}
}

// str reads a string literal and returns its value and, when it is not valid Unicode text,
// why (the value then holds U+FFFD where the bad bytes were).
func (c *jsonChecker) str() (string, string) {
	c.i++ // "
	var b strings.Builder
	problem := ""
	for {
		if c.i >= len(c.data) {
			c.fail("the body is not valid JSON: a string does not end")
		}
		ch := c.data[c.i]
		switch {
		case ch == '"':
			c.i++
			return b.String(), problem
		case ch < 0x20:
			c.fail("the body is not valid JSON: a raw control character in a string at byte %d", c.i)
		case ch == '\\':
			r, ok := c.escape()
			if !ok && problem == "" {
				problem = msgSurrogate
			}
			b.WriteRune(r)
		case ch < utf8.RuneSelf:
			b.WriteByte(ch)
			c.i++
		default:
			r, size := utf8.DecodeRune(c.data[c.i:])
			if r == utf8.RuneError && size == 1 && problem == "" {
				problem = msgBadUTF8
			}
			b.WriteRune(r)
			c.i += size
		}
	}
}

// escape reads one escape sequence; ok is false for a lone surrogate.
func (c *jsonChecker) escape() (r rune, ok bool) {
	if c.i+1 >= len(c.data) {
		c.fail("the body is not valid JSON: a string does not end")
	}
	e := c.data[c.i+1]
	c.i += 2
	switch e {
	case '"', '\\', '/':
		return rune(e), true
	case 'b':
		return '\b', true
	case 'f':
		return '\f', true
	case 'n':
		return '\n', true
	case 'r':
		return '\r', true
	case 't':
		return '\t', true
	case 'u':
		r1 := c.hex4()
		if !utf16.IsSurrogate(r1) {
			return r1, true
		}
		if r1 < 0xDC00 && c.i+1 < len(c.data) && c.data[c.i] == '\\' && c.data[c.i+1] == 'u' {
			save := c.i
			c.i += 2
			r2 := c.hex4()
			if r := utf16.DecodeRune(r1, r2); r != utf8.RuneError {
				return r, true
			}
			c.i = save // not a pair: the next escape is read on its own
		}
		return utf8.RuneError, false
	}
	c.fail("the body is not valid JSON: bad escape \\%c", e)
	return 0, false
}

func (c *jsonChecker) hex4() rune {
	if c.i+4 > len(c.data) {
		c.fail("the body is not valid JSON: a \\u escape is cut short")
	}
	n, err := strconv.ParseUint(string(c.data[c.i:c.i+4]), 16, 32)
	if err != nil {
		c.fail("the body is not valid JSON: bad \\u escape at byte %d", c.i)
	}
	c.i += 4
	return rune(n)
}

func (c *jsonChecker) literal(word string) {
	if !bytes.HasPrefix(c.data[c.i:], []byte(word)) {
		c.fail("the body is not valid JSON: unexpected token at byte %d", c.i)
	}
	c.i += len(word)
}

// number reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (c *jsonChecker) number() {
	start := c.i
	digits := func() int {
		n := 0
		for c.i < len(c.data) && c.data[c.i] >= '0' && c.data[c.i] <= '9' {
			c.i++
			n++
		}
		return n
	}
	if c.peek() == '-' {
		c.i++
	}
	switch {
	case c.peek() == '0':
		c.i++
	case digits() == 0:
		c.fail("the body is not valid JSON: bad number at byte %d", start)
	}
	if c.peek() == '.' {
		c.i++
		if digits() == 0 {
			c.fail("the body is not valid JSON: bad number at byte %d", start)
		}
	}
	if p := c.peek(); p == 'e' || p == 'E' {
		c.i++
		if p := c.peek(); p == '+' || p == '-' {
			c.i++
		}
		if digits() == 0 {
			c.fail("the body is not valid JSON: bad number at byte %d", start)
		}
	}
}

// structFields maps a struct's JSON member names (exact case) to their types, and lists them.
func structFields(t reflect.Type) (map[string]reflect.Type, []string) {
	fields := map[string]reflect.Type{}
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fields[name] = f.Type
		names = append(names, name)
	}
	return fields, names
}

func unknownField(name string, known []string) string {
	for _, k := range known {
		if strings.EqualFold(k, name) {
			return "unknown field; names are case-sensitive: did you mean " + k + "?"
		}
	}
	return "unknown field"
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
