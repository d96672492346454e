// Package pubnub is a typed client for the PubNub Admin API v2: apps,
// keysets and their configuration, secret keys, OEM customers and usage
// metrics.
//
// Every request carries the raw API key in Authorization, a PubNub-Version
// date and JSON content headers, and honours its context. Failures come back
// as *Error (the API answered with an error status) or *TransportError (no
// usable answer), which IsRetryable, IsPermanent, IsRateLimited and
// RateLimitWait classify so that a caller can tell "try again later" from
// "an operator must act". The client never puts the API key or a secret key
// into an error, and has no logger.
//
// The package imports nothing of this module; tests run it against
// internal/pubnub/sandbox.
package pubnub

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Defaults used by New for empty arguments.
const (
	// DefaultBaseURL is PubNub's production Admin API, /v2 included.
	DefaultBaseURL = "https://admin-api.pubnub.com/v2"
	// DefaultVersion is the PubNub-Version sent: the first doc set that
	// documents the OEM customer endpoints, the newest group this client
	// calls on every tenant. Secret keys are documented from 2025-11-01 and
	// apps, keysets, config and usage from 2025-11-15, so this date serves
	// them too. DeleteCustomer alone needs a later date (see
	// DeleteCustomerVersion) and sends it itself.
	DefaultVersion = "2026-02-09"
	// DeleteCustomerVersion is the PubNub-Version DeleteCustomer sends when
	// the client's own version is older. The customer delete is in PubNub's
	// latest docs only, absent from the 2026-02-09 and 2026-03-01 doc sets;
	// its first version is unknown, so this is the newest doc set seen.
	DeleteCustomerVersion = "2026-09-03"
	// DefaultTimeout bounds a request when New builds the http.Client.
	DefaultTimeout = 30 * time.Second
)

// maxResponseBytes bounds how much of a response body is read.
const maxResponseBytes = 10 << 20

// Client calls the Admin API. It is safe for concurrent use.
//
// The API key is kept behind a pointer to an unexported type, and Client
// implements String and GoString, so printing a Client (or a struct holding
// one) never shows the key.
type Client struct {
	baseURL  string
	basePath string // the URL path of baseURL, for errors raised without a request
	version  string
	key      *credential
	http     *http.Client
}

// credential holds the API key. Being reached through a pointer, it is
// printed as an address, never as text, when fmt formats a struct holding a
// Client value.
type credential struct{ apiKey string }

// New returns a client for the Admin API at baseURL, which includes the
// /v2 (DefaultBaseURL when empty; http://host/sandbox/v2 in dev mode).
// apiKey is the service integration key, sent raw. version is the
// PubNub-Version date (DefaultVersion when empty). A nil httpClient means a
// new http.Client with DefaultTimeout.
func New(baseURL, apiKey, version string, httpClient *http.Client) *Client {
	if baseURL == "" {
		baseURL = DefaultBaseURL
	}
	if version == "" {
		version = DefaultVersion
	}
	if httpClient == nil {
		httpClient = &http.Client{Timeout: DefaultTimeout}
	}
	baseURL = strings.TrimRight(baseURL, "/")
	var basePath string
	if u, err := url.Parse(baseURL); err == nil {
		basePath = u.Path
	}
	return &Client{
		baseURL:  baseURL,
		basePath: basePath,
		version:  version,
		key:      &credential{apiKey: apiKey},
		http:     httpClient,
	}
}

// BaseURL returns the API root requests are sent to.
func (c *Client) BaseURL() string { return c.baseURL }

// Version returns the PubNub-Version date sent with every request.
func (c *Client) Version() string { return c.version }

// String describes the client without its API key.
func (c *Client) String() string {
	if c == nil {
		return "pubnub.Client(nil)"
	}
	return fmt.Sprintf("pubnub.Client{baseURL: %q, version: %q, apiKey: %s}", c.baseURL, c.version, redacted)
}

// GoString is String, so %#v does not show the API key either.
func (c *Client) GoString() string { return c.String() }

// request is one API call.
type request struct {
	op     string     // what the caller asked for, for errors: "create keyset"
	method string     // HTTP method
	path   string     // relative to baseURL, already escaped: "/keysets/5/config"
	query  url.Values // optional
	body   any        // JSON-encoded when non-nil
	// version overrides the client's PubNub-Version for this call, when set.
	version string
}

// do sends req and decodes a 2xx body into out (when non-nil). It returns
// *Error for an error status and *TransportError when no usable answer
// arrived.
func (c *Client) do(ctx context.Context, req request, out any) error {
	u := c.baseURL + req.path
	if len(req.query) > 0 {
		u += "?" + req.query.Encode()
	}
	var body io.Reader
	if req.body != nil {
		b, err := json.Marshal(req.body)
		if err != nil {
			return fmt.Errorf("pubnub: %s: encode request: %w", req.op, err)
		}
		body = bytes.NewReader(b)
	}
	httpReq, err := http.NewRequestWithContext(ctx, req.method, u, body)
	if err != nil {
		return fmt.Errorf("pubnub: %s: build request: %w", req.op, err)
	}
	if s := httpReq.URL.Scheme; s != "http" && s != "https" {
		return fmt.Errorf("pubnub: %s: base URL %q must be http or https", req.op, c.baseURL)
	}
	httpReq.Header.Set("Authorization", c.key.apiKey)
	httpReq.Header.Set("PubNub-Version", cmp.Or(req.version, c.version))
	httpReq.Header.Set("Content-Type", "application/json")
	httpReq.Header.Set("Accept", "application/json")

	resp, err := c.http.Do(httpReq)
	if err != nil {
		return newTransportError(ctx, req, httpReq, 0, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return newTransportError(ctx, req, httpReq, resp.StatusCode, fmt.Errorf("read response: %w", err))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return c.newError(req, httpReq, resp, raw)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return newTransportError(ctx, req, httpReq, resp.StatusCode, fmt.Errorf("decode %d response: %w", resp.StatusCode, err))
	}
	return nil
}

// transportError wraps a failure to get a usable answer. When the caller's
// own context has ended, the failure is the caller's, not upstream's, and is
// marked Canceled.
func newTransportError(ctx context.Context, req request, httpReq *http.Request, status int, err error) error {
	return &TransportError{
		Op: req.op, Method: req.method, Path: httpReq.URL.Path,
		StatusCode: status,
		Canceled:   ctx.Err() != nil,
		Err:        err,
	}
}
