package console

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pnonboard/pnonboard/internal/auth"
	"github.com/pnonboard/pnonboard/internal/logging"
)

// Cookie names. Outside dev mode the cookie is Secure, and so may carry the __Host- prefix:
// browsers then accept it only from this origin, for path /, never from a subdomain.
const (
	cookieName       = "__Host-pnonboard_console"
	devCookieName    = "pnonboard_console"
	csrfField        = "csrf"
	maxFormBytes     = 16 << 10
	maxKeyLen        = 200
	csrfTokenContext = "pnonboard console csrf v1"
)

// user is the signed-in person: their session and the key they signed in with.
type user struct {
	key       *auth.Key
	session   *auth.Session
	sessionID string
	csrf      string
}

// Name is who the person is, as the timeline's actor names them.
func (u *user) Name() string { return u.key.Name }

// Key is the key's record (ID, prefix, scopes, expiry), never the key itself.
func (u *user) Key() *auth.Key { return u.key }

// Session is the session's record.
func (u *user) Session() *auth.Session { return u.session }

// Can reports whether the person's key carries scope.
func (u *user) Can(scope auth.Scope) bool { return u != nil && u.key.Has(scope) }

// CSRF is the token every form of this session must send back.
func (u *user) CSRF() string { return u.csrf }

type userKey struct{}

func userFrom(ctx context.Context) *user {
	u, _ := ctx.Value(userKey{}).(*user)
	return u
}

// csrfToken is the session's CSRF token, derived from its ID (an HMAC keyed by it), so it
// needs no storage, differs per session, and cannot be made without the cookie. The database
// holds only the ID's SHA-256, from which it cannot be made either.
func csrfToken(sessionID string) string {
	mac := hmac.New(sha256.New, []byte(sessionID))
	mac.Write([]byte(csrfTokenContext))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func (c *Console) cookieName() string {
	if c.dev {
		return devCookieName
	}
	return cookieName
}

// sessionCookie carries the session ID: HttpOnly (no script reads it), SameSite=Strict (no
// other site's page sends it), Secure outside dev mode, and no longer-lived than the session.
func (c *Console) sessionCookie(id string, expires time.Time) *http.Cookie {
	return &http.Cookie{Name: c.cookieName(), Value: id, Path: "/", Expires: expires,
		HttpOnly: true, Secure: !c.dev, SameSite: http.SameSiteStrictMode}
}

func (c *Console) clearedCookie() *http.Cookie {
	return &http.Cookie{Name: c.cookieName(), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: !c.dev, SameSite: http.SameSiteStrictMode}
}

// guard lets a request through only for a live session whose key has scope ("" for any),
// and, for a POST, only with the session's CSRF token. Without a session, it sends the
// browser to sign in, and back here after.
func (c *Console) guard(scope auth.Scope, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ck, err := r.Cookie(c.cookieName())
		if err != nil || ck.Value == "" {
			c.render(w, r, nil, c.toSignIn(r))
			return
		}
		sess, key, err := c.keys.SessionKey(r.Context(), ck.Value)
		if errors.Is(err, auth.ErrUnauthenticated) {
			pg := c.toSignIn(r)
			pg.cookies = []*http.Cookie{c.clearedCookie()}
			c.render(w, r, nil, pg)
			return
		}
		if err != nil {
			c.render(w, r, nil, c.errorPage(r.Context(), err))
			return
		}
		u := &user{key: key, session: sess, sessionID: ck.Value, csrf: csrfToken(ck.Value)}
		ctx := context.WithValue(auth.WithKey(r.Context(), key), userKey{}, u)
		r = r.WithContext(logging.With(ctx, slog.String("key_id", key.ID)))

		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			if err := r.ParseForm(); err != nil {
				c.render(w, r, u, &page{name: "error", title: "Bad request", status: http.StatusBadRequest,
					data: errorView{Status: http.StatusBadRequest, Message: "This form could not be read."}})
				return
			}
			got := r.PostFormValue(csrfField)
			if subtle.ConstantTimeCompare([]byte(got), []byte(u.csrf)) != 1 {
				c.render(w, r, u, forbidden("This form did not come from your console session (its CSRF token is missing or wrong). Reload the page and try again."))
				return
			}
		}
		if scope != "" && !key.Has(scope) {
			c.render(w, r, u, forbidden(fmt.Sprintf("Your key (%s) lacks the %s scope this needs.", key.Name, scope)))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// guardAlso, inside guard, answers 403 unless the signed-in key also has scope ("" for none):
// for the actions that need two scopes.
func (c *Console) guardAlso(scope auth.Scope, next http.Handler) http.Handler {
	if scope == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u := userFrom(r.Context()); !u.Can(scope) {
			c.render(w, r, u, forbidden(fmt.Sprintf("Your key (%s) lacks the %s scope this needs.", u.Name(), scope)))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// toSignIn sends the browser to the sign-in page, to come back to this page after (GETs
// only: a POST's form cannot be replayed).
func (c *Console) toSignIn(r *http.Request) *page {
	next := ""
	if r.Method == http.MethodGet {
		next = r.URL.RequestURI()
	}
	return &page{redirect: withQuery(Prefix+"/sign-in", "next", next)}
}

// safeNext is next if it is a page of the console, else the console's home: a sign-in link
// must not be able to send the person to another site.
func safeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || next == "" || u.Scheme != "" || u.Host != "" || u.User != nil ||
		!strings.HasPrefix(u.Path, Prefix+"/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return Prefix + "/"
	}
	return u.RequestURI()
}

// signInView is the sign-in page's data.
type signInView struct {
	Next      string
	Error     string
	SignedOut bool
}

type signInPageRequest struct {
	next      string
	signedOut bool
}

func (r *signInPageRequest) extract(p *params) {
	r.next = safeNext(p.r.URL.Query().Get("next"))
	r.signedOut = p.flag("signed_out")
}

func (c *Console) signInPage(_ context.Context, _ *user, req *signInPageRequest) (*page, error) {
	return &page{name: "signin", title: "Sign in", data: signInView{Next: req.next, SignedOut: req.signedOut}}, nil
}

type signInRequest struct {
	key, next, addr string
}

func (r *signInRequest) extract(p *params) {
	p.r.Body = http.MaxBytesReader(nil, p.r.Body, maxFormBytes)
	if err := p.r.ParseForm(); err != nil {
		p.fail("form", "could not be read")
		return
	}
	r.key = strings.TrimSpace(p.r.PostFormValue("key"))
	if len(r.key) > maxKeyLen {
		r.key = "" // no key is this long: refuse it like any other bad key
	}
	r.next = safeNext(p.r.PostFormValue("next"))
	r.addr = clientAddr(p.r)
}

// signIn opens a session for a valid key. Failures count against the client's address, and
// past the limit sign-in answers 429 without even checking the key.
func (c *Console) signIn(ctx context.Context, _ *user, req *signInRequest) (*page, error) {
	retry := func(status int, msg string) *page {
		return &page{name: "signin", title: "Sign in", status: status, data: signInView{Next: req.next, Error: msg}}
	}
	if wait := c.limiter.wait(req.addr); wait > 0 {
		minutes := int(wait.Round(time.Minute) / time.Minute)
		pg := retry(http.StatusTooManyRequests, fmt.Sprintf("Too many failed sign-ins from your address. Try again in %d minute(s).", max(minutes, 1)))
		pg.headers = map[string]string{"Retry-After": strconv.Itoa(int(wait.Seconds()) + 1)}
		return pg, nil
	}
	sess, key, id, err := c.keys.StartSession(ctx, req.key, req.addr)
	if errors.Is(err, auth.ErrUnauthenticated) {
		c.limiter.fail(req.addr)
		c.logger.WarnContext(ctx, "console sign-in refused", "client_addr", req.addr)
		return retry(http.StatusUnauthorized, "That key was not accepted: it is malformed, unknown, expired or revoked."), nil
	}
	if err != nil {
		return nil, err
	}
	c.logger.InfoContext(ctx, "console sign-in", "key_id", key.ID, "key_name", key.Name, "client_addr", req.addr)
	return &page{redirect: req.next, cookies: []*http.Cookie{c.sessionCookie(id, sess.ExpiresAt)}}, nil
}

type signOutRequest struct{}

// signOut ends the session, here and in the database, whatever the browser does with the
// cookie afterwards.
func (c *Console) signOut(ctx context.Context, u *user, _ *signOutRequest) (*page, error) {
	if err := c.keys.EndSession(ctx, u.sessionID); err != nil {
		return nil, err
	}
	c.logger.InfoContext(ctx, "console sign-out", "key_id", u.key.ID)
	return &page{redirect: withQuery(Prefix+"/sign-in", "signed_out", "1"), cookies: []*http.Cookie{c.clearedCookie()}}, nil
}

// clientAddr is the address failed sign-ins are counted against: the connection's peer.
// Forwarded headers are not trusted (anyone can send them), so behind a proxy every person
// shares the proxy's address and its limit.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
