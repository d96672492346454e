package accessmanager_test

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/accessmanager"
)

// TestSign reproduces the signature test vectors published in PubNub's Go
// SDK (endpoints_test.go: TestSignatureV2_granttoken and its siblings). The
// SDK tests sign a query string it built already; here the same query is
// given as values, so the vectors also check the sorting and pamEncode.
func TestSign(t *testing.T) {
	t.Parallel()

	const (
		grantPub = "pub-c-cdea0ef1-c571-4b72-b43f-ff1dc8aa4c5d"
		grantSec = "sec-c-YTYxNzVjYzctNDY2MS00N2NmLTg2NjYtNGRlNWY1NjMxMDBm"
	)
	tests := []struct {
		name                string
		secret, pub, method string
		path                string
		query               url.Values
		body                string
		want                string
	}{
		{
			name:   "GrantToken", // TestSignatureV2_granttoken
			secret: grantSec, pub: grantPub, method: "POST",
			path: "/v3/pam/sub-c-4757f09c-c3f2-11e9-9d00-8a58a5558306/grant",
			query: url.Values{
				"uuid":      {"pn-f1df31f1-6ba9-49e1-ae72-084c15404302"},
				"timestamp": {"1583755527"},
				"pnsdk":     {"PubNub-Go/4.6.5"},
			},
			body: `{"ttl":10,"permissions":{"resources":{"channels":{},"groups":{},"users":{"u1":7,"u2":7},"spaces":{"s1":31,"s2":31}},"patterns":{"channels":{},"groups":{},"users":{"^u-[0-9a-f]*$":15},"spaces":{"^s-[0-9a-f]*$":27}},"meta":{}}}`,
			want: "v2.Dd2YCsd-Ds_fFpGyuHIetndf2UrgZ-FTwcLggcPfx98",
		},
		{
			name:   "SignatureIgnored", // the same, with a signature parameter present
			secret: grantSec, pub: grantPub, method: "POST",
			path: "/v3/pam/sub-c-4757f09c-c3f2-11e9-9d00-8a58a5558306/grant",
			query: url.Values{
				"signature": {"v2.whatever"},
				"uuid":      {"pn-f1df31f1-6ba9-49e1-ae72-084c15404302"},
				"timestamp": {"1583755527"},
				"pnsdk":     {"PubNub-Go/4.6.5"},
			},
			body: `{"ttl":10,"permissions":{"resources":{"channels":{},"groups":{},"users":{"u1":7,"u2":7},"spaces":{"s1":31,"s2":31}},"patterns":{"channels":{},"groups":{},"users":{"^u-[0-9a-f]*$":15},"spaces":{"^s-[0-9a-f]*$":27}},"meta":{}}}`,
			want: "v2.Dd2YCsd-Ds_fFpGyuHIetndf2UrgZ-FTwcLggcPfx98",
		},
		{
			name:   "UnicodeQueryAndBody", // TestSignatureV2
			secret: "wMfbo9G0xVUG8yfTfYw5qIdfJkTd7A", pub: "demo", method: "POST",
			path:  "/v3/pam/demo/grant",
			query: url.Values{"timestamp": {"123456789"}, "PoundsSterling": {"£13.37"}},
			body: `{
  "ttl": 1440,
  "permissions": {
    "resources" : {
      "channels": {
        "inbox-jay": 3
      },
      "groups": {},
      "users": {},
      "spaces": {}
    },
    "patterns" : {
      "channels": {},
      "groups": {},
      "users": {},
      "spaces": {}
    },
    "meta": {
      "user-id": "jay@example.com",
      "contains-unicode": "The 💩 test."
    }
  }
}`,
			want: "v2.k80LsDMD-sImA8rCBj-ntRKhZ8mSjHY8Ivngt9W3Yc4",
		},
		{
			name:   "GetWithoutBody", // TestSignatureV2_1
			secret: "sec-c-MmUxNTZjMmYtNzFkNS00OAkzLWE2YjctNmQ4YzE5NWNmZDA3", pub: "pub-c-03f156ea-a2e9-4c35-a733-9535824be897", method: "GET",
			path: "/v1/objects/sub-c-d7da9e59-c997-11e9-a139-dab2c75acd6f/spaces/pandu-ut-sid/users",
			query: url.Values{
				"l_obj": {"0.4545555556"}, "l_pam": {"1.145"}, "pnsdk": {"PubNubCSharp4.0.34.0"},
				"requestid": {"19e1dee9-2f87-45d6-97e5-3f4d3f9779a2"}, "timestamp": {"1568724043"}, "uuid": {"mytestuuid"},
			},
			want: "v2.TcZdUURiXAnxJgN4OLPczxzH4MQO87l-yKfE4fyUHGc",
		},
		{
			name:   "QuoteAndEqualsEncoded", // TestSignatureV2_2
			secret: "sec-c-ZDkzZTBkOTEtNTQxZS00VmQ3LTljMWUtMTNiNGZjNWUwMTVk", pub: "pub-c-38994634-9e06-4967-bc66-2ac2cef65ed9", method: "GET",
			path: "/v1/objects/sub-c-c9710929-1b7a-11e3-a0c8-02ee2ddab7fe/users",
			query: url.Values{
				"count": {"true"}, "filter": {"name=='newnamemodified'"}, "include": {"custom"},
				"pnsdk": {"NET461CSharp4.5.0.0"}, "timestamp": {"1577364610"}, "uuid": {"pn-856feea0-5ba3-4c6d-85a2-a67efa1f4e20"},
			},
			want: "v2.w39EWDHc0ibDCxOD2jiJEutjpc_1VJ1SDyGaABEljSs",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got := accessmanager.Sign(tt.secret, tt.pub, tt.method, tt.path, tt.query, []byte(tt.body))

			require.Equal(t, tt.want, got)
		})
	}

	t.Run("DependsOnEveryInput", func(t *testing.T) {
		t.Parallel()
		q := url.Values{"timestamp": {"1"}}
		base := accessmanager.Sign("sec", "pub", "POST", "/p", q, []byte("b"))
		for _, other := range []string{
			accessmanager.Sign("sec2", "pub", "POST", "/p", q, []byte("b")),
			accessmanager.Sign("sec", "pub2", "POST", "/p", q, []byte("b")),
			accessmanager.Sign("sec", "pub", "DELETE", "/p", q, []byte("b")),
			accessmanager.Sign("sec", "pub", "POST", "/p2", q, []byte("b")),
			accessmanager.Sign("sec", "pub", "POST", "/p", url.Values{"timestamp": {"2"}}, []byte("b")),
			accessmanager.Sign("sec", "pub", "POST", "/p", q, []byte("b2")),
		} {
			require.NotEqual(t, base, other)
		}
		require.Regexp(t, `^v2\.[A-Za-z0-9_-]{43}$`, base)
	})
}
