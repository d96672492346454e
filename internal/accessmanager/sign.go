package accessmanager

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"slices"
	"strings"
)

// Sign returns PubNub's v2 request signature ("v2." and 43 characters) for
// a data-plane request: HMAC-SHA256, keyed with the keyset's secret key,
// of
//
//	METHOD + "\n" + publishKey + "\n" + path + "\n" + query + "\n" + body
//
// where path is the request path as sent (already escaped, e.g.
// "/v3/pam/sub-c-…/grant"), query is every parameter of query except
// "signature", sorted by name, each written name=pamEncode(value) and joined
// with "&", and body is the exact request body (empty for DELETE). The MAC is
// base64 URL-safe without padding.
//
// The caller sends the result as the last query parameter, "signature".
func Sign(secretKey, publishKey, method, path string, query url.Values, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secretKey))
	mac.Write([]byte(method + "\n" + publishKey + "\n" + path + "\n" + canonicalQuery(query) + "\n"))
	mac.Write(body)
	return "v2." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// canonicalQuery is the query part of the string to sign: parameters other
// than "signature", sorted by name (several values of one name in the order
// given), each name=pamEncode(value), joined by "&". Names are written as
// they are, as PubNub's SDKs do; ours are plain words.
func canonicalQuery(query url.Values) string {
	names := make([]string, 0, len(query))
	for name := range query {
		if name != "signature" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var b strings.Builder
	for _, name := range names {
		for _, v := range query[name] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(name)
			b.WriteByte('=')
			b.WriteString(pamEncode(v))
		}
	}
	return b.String()
}

// pamEncode is the percent-encoding PubNub signs query values and path
// segments with: URL query escaping with a space as %20 (not "+"), and
// * ! ' ( ) [ ] ~ percent-encoded too. Go's QueryEscape already encodes all
// of those but "~".
func pamEncode(s string) string {
	e := url.QueryEscape(s)
	if !strings.ContainsAny(e, "+~") {
		return e
	}
	return strings.NewReplacer("+", "%20", "~", "%7E").Replace(e)
}
