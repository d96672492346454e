// Package accessmanager grants, revokes and parses PubNub Access Manager v3
// tokens without a PubNub SDK: it signs the data-plane REST requests itself
// (Sign, PubNub's signature v2) and decodes the CBOR tokens locally (Parse).
//
// A Client holds no keys: every call takes the keyset's Keys, so that a
// secret key is unsealed for one request and then dropped. The secret key is
// a Secret, which prints redacted; no error or String of this package holds
// a secret key or the token being revoked. Failures come back as *Error (an
// answer with an error status), *TransportError (no usable answer) or
// *ValidationError (refused before sending), which IsRetryable and
// IsPermanent classify.
//
// The package imports nothing of this module and has no logger; its tests
// run it against internal/pubnub/sandbox.
package accessmanager

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Defaults used by New and the requests.
const (
	// DefaultOrigin is PubNub's data-plane origin.
	DefaultOrigin = "https://ps.pndsn.com"
	// DefaultTimeout bounds a request when New builds the http.Client.
	DefaultTimeout = 10 * time.Second
	// UserID is the uuid query parameter: the ID of the granting server.
	UserID = "pnonboard"
	// SDKName is the pnsdk query parameter.
	SDKName = "pnonboard-accessmanager/1"
)

// maxResponseBytes bounds how much of an answer is read.
const maxResponseBytes = 1 << 20

// Secret is a keyset secret key. It prints redacted everywhere (fmt verbs,
// slog, JSON) so that it cannot reach a log or an error by accident; Reveal
// returns the value, which only Sign needs.
type Secret string

// Reveal returns the secret key itself.
func (s Secret) Reveal() string { return string(s) }

// String returns the redacted form: "sec-c-…(redacted)" (or "…(redacted)"
// for a key without PubNub's prefix), never a character of the key; empty
// stays empty.
func (s Secret) String() string {
	switch {
	case s == "":
		return ""
	case strings.HasPrefix(string(s), "sec-c-"):
		return "sec-c-…" + redacted
	default:
		return "…" + redacted
	}
}

// GoString is String, for %#v.
func (s Secret) GoString() string { return s.String() }

// Format prints the redacted form for every verb, %x and %q included.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprint(f, strconv.Quote(s.String()))
		return
	}
	fmt.Fprint(f, s.String())
}

// LogValue makes slog print the redacted form.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON encodes the redacted form.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// Keys are what a grant or revoke needs of a keyset: the subscribe key names
// it in the path, the publish and secret keys sign the request.
type Keys struct {
	SubscribeKey string
	PublishKey   string
	SecretKey    Secret
}

func (k Keys) valid(op string) error {
	if k.SubscribeKey == "" || k.PublishKey == "" || k.SecretKey == "" {
		return fmt.Errorf("accessmanager: %s: %w: keys need a subscribe, a publish and a secret key", op, ErrInvalidArgument)
	}
	return nil
}

// Client calls Access Manager's REST endpoints. It is safe for concurrent
// use and holds no keys.
type Client struct {
	origin string
	http   *http.Client
}

// New returns a client for the data-plane origin (DefaultOrigin when empty).
// The origin may carry a path prefix, such as
// http://127.0.0.1:8080/sandbox for a mounted sandbox: requests go to the
// origin plus /v3/pam/…, and the signature covers /v3/pam/… only, the path
// PubNub (or a sandbox behind http.StripPrefix) sees. A nil httpClient means
// a new http.Client with DefaultTimeout.
func New(origin string, httpClient *http.Client) *Client {
	if origin == "" {
		origin = DefaultOrigin
	}
	if httpClient == nil {
		httpClient = &http.Client{Timeout: DefaultTimeout}
	}
	return &Client{origin: strings.TrimRight(origin, "/"), http: httpClient}
}

// Origin returns the origin requests are sent to.
func (c *Client) Origin() string { return c.origin }

// String describes the client.
func (c *Client) String() string {
	if c == nil {
		return "accessmanager.Client(nil)"
	}
	return fmt.Sprintf("accessmanager.Client{origin: %q}", c.origin)
}

// grantBody is the grant request body.
type grantBody struct {
	TTL         int              `json:"ttl"`
	Permissions grantPermissions `json:"permissions"`
}

type grantPermissions struct {
	Resources resourceSet    `json:"resources"`
	Patterns  resourceSet    `json:"patterns"`
	Meta      map[string]any `json:"meta"`
	UUID      string         `json:"uuid,omitempty"`
}

// resourceSet is a resources or patterns object. users and spaces are
// PubNub's deprecated names, sent empty as the SDKs do.
type resourceSet struct {
	Channels map[string]Permissions `json:"channels"`
	Groups   map[string]Permissions `json:"groups"`
	UUIDs    map[string]Permissions `json:"uuids"`
	Users    map[string]Permissions `json:"users"`
	Spaces   map[string]Permissions `json:"spaces"`
}

func newResourceSet(r Resources) resourceSet {
	orEmpty := func(m map[string]Permissions) map[string]Permissions {
		if m == nil {
			return map[string]Permissions{}
		}
		return m
	}
	return resourceSet{
		Channels: orEmpty(r.Channels), Groups: orEmpty(r.Groups), UUIDs: orEmpty(r.UUIDs),
		Users: map[string]Permissions{}, Spaces: map[string]Permissions{},
	}
}

// Grant asks Access Manager for a token (POST /v3/pam/{subscribeKey}/grant)
// and returns it; Parse reads it. It returns a *ValidationError, before
// sending anything, when req.Validate finds problems, an error wrapping
// ErrInvalidArgument when a key is missing, *Error for an error answer
// (403: bad signature, skewed clock or Access Manager off; 400: a field
// PubNub refused, named in Details) and *TransportError when no usable
// answer arrived.
func (c *Client) Grant(ctx context.Context, keys Keys, req GrantRequest) (string, error) {
	const op = "grant"
	if errs := req.Validate(); errs != nil {
		return "", &ValidationError{Fields: errs}
	}
	if err := keys.valid(op); err != nil {
		return "", err
	}
	meta := req.Meta
	if meta == nil {
		meta = map[string]any{}
	}
	body, err := json.Marshal(grantBody{TTL: req.TTL, Permissions: grantPermissions{
		Resources: newResourceSet(req.Resources),
		Patterns:  newResourceSet(req.Patterns),
		Meta:      meta,
		UUID:      req.AuthorizedUserID,
	}})
	if err != nil {
		return "", fmt.Errorf("accessmanager: grant: encode request: %w: %w", ErrInvalidArgument, err)
	}
	path := "/v3/pam/" + pamEncode(keys.SubscribeKey) + "/grant"
	raw, status, err := c.do(ctx, call{op: op, method: http.MethodPost, path: path, shownPath: path, body: body, keys: keys})
	if err != nil {
		return "", err
	}
	var out struct {
		Data struct {
			Token string `json:"token"`
		} `json:"data"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.Data.Token == "" {
		cause := errors.New("answer holds no data.token")
		if err != nil {
			cause = fmt.Errorf("decode %d answer: %w", status, err)
		}
		return "", &TransportError{Op: op, Method: http.MethodPost, Path: path, StatusCode: status, Err: cause}
	}
	return out.Data.Token, nil
}

// Revoke revokes a token (DELETE /v3/pam/{subscribeKey}/grant/{token}).
// PubNub accepts it only when the keyset has token revoke on and the
// token's TTL is at most MaxRevocableTTL; otherwise, and for an expired or
// foreign token, it answers an *Error (400 or 403). It returns an error
// wrapping ErrInvalidArgument for a missing key or an empty or oversized
// token, and *TransportError when no usable answer arrived. No error holds
// the token.
func (c *Client) Revoke(ctx context.Context, keys Keys, token string) error {
	const op = "revoke"
	if err := keys.valid(op); err != nil {
		return err
	}
	if token == "" || len(token) > MaxTokenLen {
		return fmt.Errorf("accessmanager: revoke: %w: the token must be 1 to %d characters", ErrInvalidArgument, MaxTokenLen)
	}
	base := "/v3/pam/" + pamEncode(keys.SubscribeKey) + "/grant/"
	_, _, err := c.do(ctx, call{op: op, method: http.MethodDelete, path: base + pamEncode(token), shownPath: base + "(token)", keys: keys, hide: []string{token, pamEncode(token)}})
	return err
}

// call is one signed request.
type call struct {
	op        string
	method    string
	path      string // the API path, escaped, signed as is: "/v3/pam/sub-c-…/grant"
	shownPath string // path as errors show it
	body      []byte
	keys      Keys
	hide      []string // besides the secret key, texts no error may show
}

// do signs and sends cl and returns a 2xx body and its status. It returns
// *Error for an error status and *TransportError when no usable answer
// arrived.
func (c *Client) do(ctx context.Context, cl call) ([]byte, int, error) {
	transportErr := func(status int, err error) error {
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			err = urlErr.Err // the URL holds the signature, and for revoke the token
		}
		return &TransportError{Op: cl.op, Method: cl.method, Path: cl.shownPath, StatusCode: status, Canceled: ctx.Err() != nil, Err: err}
	}
	query := url.Values{
		"timestamp": {strconv.FormatInt(time.Now().Unix(), 10)},
		"uuid":      {UserID},
		"pnsdk":     {SDKName},
	}
	sig := Sign(cl.keys.SecretKey.Reveal(), cl.keys.PublishKey, cl.method, cl.path, query, cl.body)
	u := c.origin + cl.path + "?" + canonicalQuery(query) + "&signature=" + pamEncode(sig)

	var body io.Reader
	if cl.body != nil {
		body = bytes.NewReader(cl.body)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, u, body)
	if err != nil {
		return nil, 0, fmt.Errorf("accessmanager: %s: build request for origin %q: %w", cl.op, c.origin, ErrInvalidArgument)
	}
	if s := req.URL.Scheme; s != "http" && s != "https" {
		return nil, 0, fmt.Errorf("accessmanager: %s: %w: origin %q must be http or https", cl.op, ErrInvalidArgument, c.origin)
	}
	if cl.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json, text/javascript")

	resp, err := c.http.Do(req)
	if err != nil {
		return nil, 0, transportErr(0, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, 0, transportErr(resp.StatusCode, fmt.Errorf("read answer: %w", err))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, resp.StatusCode, newError(cl.op, resp.StatusCode, raw, append([]string{cl.keys.SecretKey.Reveal()}, cl.hide...)...)
	}
	return raw, resp.StatusCode, nil
}
