package console

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/webhooks"
)

// TestPagerOnEveryList: each list that embeds pager shows its links through the shared
// "pager" template, with the list's filters kept in both and the cursor only in Next.
func TestPagerOnEveryList(t *testing.T) {
	pages := parsePages(map[string]string{})
	for name, data := range map[string]func(pager) any{
		"tenants":  func(p pager) any { return tenantListView{pager: p} },
		"events":   func(p pager) any { return eventsView{pager: p} },
		"endpoint": func(p pager) any { return endpointView{Endpoint: &webhooks.Endpoint{ID: "ep_1"}, pager: p} },
	} {
		t.Run(name, func(t *testing.T) {
			render := func(p pager) string {
				var buf bytes.Buffer
				require.NoError(t, pages[name].ExecuteTemplate(&buf, "layout", view{Page: data(p)}))
				return buf.String()
			}
			p := pageLinks("/console/x", "c1", "c2", "q", "a&b", "state", "")
			require.Equal(t, pager{First: "/console/x?q=a%26b", Next: "/console/x?cursor=c2&q=a%26b"}, p)
			body := render(p)
			require.Contains(t, body, `<a href="/console/x?q=a%26b">« First page</a>`)
			require.Contains(t, body, `<a href="/console/x?cursor=c2&amp;q=a%26b" rel="next">Next page »</a>`)

			only := render(pageLinks("/console/x", "", "", "q", "a"))
			require.Contains(t, only, `<nav class="pager" aria-label="Pages">`)
			require.NotContains(t, only, "First page", "no first-page link on the first page")
			require.NotContains(t, only, `rel="next"`, "no next link on the last page")
		})
	}
}
