package provisioner

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/pubnub"
)

func TestNewestPage(t *testing.T) {
	t.Parallel()
	for total, want := range map[int][2]int{0: {100, 1}, 1: {100, 1}, 100: {100, 1}, 250: {84, 3}, 10_000: {100, 100}, 10_001: {87, 115}} {
		limit, page := newestPage(total)
		require.Equal(t, want, [2]int{limit, page}, "total %d", total)
		if total > 0 {
			require.GreaterOrEqual(t, total, (page-1)*limit+1, "the page is not past the end")
			require.LessOrEqual(t, total, page*limit, "it is the last page")
		}
	}
	for total := 100; total < 30_000; total += 37 {
		limit, page := newestPage(total)
		require.GreaterOrEqual(t, total-(page-1)*limit, 50, "total %d: the newest page holds at least half a page", total)
	}
}

func TestFindRecent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	marker := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	// listing is n apps, one a minute, the last `recent` of them made a second apart after
	// marker; the ones at ours are the candidates. It records the (page, limit) read.
	listing := func(n, recent int, ours ...int) (page[pubnub.App], *[][2]int) {
		var reads [][2]int
		apps := make([]pubnub.App, n)
		for i := range apps {
			apps[i] = pubnub.App{ID: fmt.Sprint(i), Name: "other", CreatedAt: marker.Add(time.Duration(i-(n-recent)) * time.Minute)}
			if i >= n-recent {
				apps[i].CreatedAt = marker.Add(time.Duration(i-(n-recent)+1) * time.Second)
			}
		}
		for _, i := range ours {
			apps[i].Name = "ours"
		}
		return func(_ context.Context, p, limit int) ([]pubnub.App, int, error) {
			reads = append(reads, [2]int{p, limit})
			from := min((p-1)*limit, n)
			return apps[from:min(from+limit, n)], n, nil
		}, &reads
	}
	find := func(list page[pubnub.App], estimate int) []string {
		found, err := findRecent(ctx, list, estimate, func(a pubnub.App) time.Time { return a.CreatedAt },
			func(a pubnub.App) bool { return a.Name == "ours" }, marker)
		require.NoError(t, err)
		var ids []string
		for _, a := range found {
			ids = append(ids, a.ID)
		}
		return ids
	}

	t.Run("ARightEstimateReadsOnePage", func(t *testing.T) {
		t.Parallel()
		list, reads := listing(10_001, 1, 10_000) // a last page of one item at 100 a page
		require.Equal(t, []string{"10000"}, find(list, 10_001))
		require.Equal(t, [][2]int{{115, 87}}, *reads, "87 at a time: the newest page holds 83")
	})

	t.Run("AWrongEstimateCostsOneCall", func(t *testing.T) {
		t.Parallel()
		list, reads := listing(10_001, 1, 10_000)
		require.Equal(t, []string{"10000"}, find(list, 1))
		require.Equal(t, [][2]int{{1, 100}, {115, 87}}, *reads)
	})

	t.Run("EveryCandidateSinceTheMarkerIsFound", func(t *testing.T) {
		t.Parallel()
		list, reads := listing(10_000, 120, 9_881, 9_999) // a duplicate a page earlier
		require.ElementsMatch(t, []string{"9881", "9999"}, find(list, 10_000))
		require.Len(t, *reads, 2)
	})

	t.Run("ACreateThatNeverHappenedCostsOneCall", func(t *testing.T) {
		t.Parallel()
		list, reads := listing(10_000, 0) // nothing made since the marker, nothing ours
		require.Empty(t, find(list, 10_000))
		require.Equal(t, [][2]int{{100, 100}}, *reads)
	})

	// fixed is a listing of the given apps in the given order, recording the pages read.
	fixed := func(apps []pubnub.App) (page[pubnub.App], *[][2]int) {
		var reads [][2]int
		return func(_ context.Context, p, limit int) ([]pubnub.App, int, error) {
			reads = append(reads, [2]int{p, limit})
			from := min((p-1)*limit, len(apps))
			return apps[from:min(from+limit, len(apps))], len(apps), nil
		}, &reads
	}

	// Newest first, not oldest first: the newest page holds only the oldest apps, and ours,
	// made after the marker, is on the first page. The page seen going backwards in time gives
	// it away, and the whole listing is walked.
	t.Run("AListingNewestFirstIsWalkedInFull", func(t *testing.T) {
		t.Parallel()
		apps := make([]pubnub.App, 250)
		for i := range apps {
			apps[i] = pubnub.App{ID: fmt.Sprint(i), Name: "other", CreatedAt: marker.Add(-time.Duration(i) * time.Minute)}
		}
		apps[0].Name, apps[0].CreatedAt = "ours", marker.Add(time.Second)
		list, reads := fixed(apps)
		newest, _, err := list(ctx, 3, 84) // what a newest-pages-only read sees: no candidate
		require.NoError(t, err)
		require.NotContains(t, newest, apps[0])
		*reads = nil

		require.Equal(t, []string{"0"}, find(list, 250))
		require.Equal(t, [][2]int{{3, 84}, {1, 100}, {2, 100}, {3, 100}}, *reads)
	})

	// Each page in order, the pages not: the newest page's neighbour holds apps newer than it
	// (and one older than the marker, where a read trusting the order would stop), and ours is
	// a page further back.
	t.Run("PagesOutOfOrderAreWalkedInFull", func(t *testing.T) {
		t.Parallel()
		apps := make([]pubnub.App, 300)
		for i := range apps {
			at := marker.Add(-time.Hour + time.Duration(i)*time.Second) // page 1: old
			switch {
			case i == 100:
				at = marker.Add(-2 * time.Hour)
			case i > 100 && i < 200:
				at = marker.Add(time.Duration(200+i) * time.Second) // newer than all of page 3
			case i >= 200:
				at = marker.Add(time.Duration(i-199) * time.Second)
			}
			apps[i] = pubnub.App{ID: fmt.Sprint(i), Name: "other", CreatedAt: at}
		}
		apps[50].Name, apps[50].CreatedAt = "ours", marker.Add(time.Second)
		list, reads := fixed(apps)
		require.Equal(t, []string{"50"}, find(list, 300))
		require.Equal(t, [][2]int{{3, 100}, {2, 100}, {1, 100}, {2, 100}, {3, 100}}, *reads)
	})

	// A full walk takes every candidate, however old: with the order unknown, creation times
	// prove nothing, and two candidates fail the tenant where one too few would duplicate.
	t.Run("AFullWalkKeepsOldCandidates", func(t *testing.T) {
		t.Parallel()
		apps := make([]pubnub.App, 250)
		for i := range apps {
			apps[i] = pubnub.App{ID: fmt.Sprint(i), Name: "other", CreatedAt: marker.Add(-time.Duration(i+1) * time.Minute)}
		}
		apps[3].Name, apps[7].Name = "ours", "ours"
		list, _ := fixed(apps)
		require.Equal(t, []string{"3", "7"}, find(list, 250))
	})

	t.Run("WithoutCreationTimesItReadsEverything", func(t *testing.T) {
		t.Parallel()
		var reads []int
		list := func(_ context.Context, p, limit int) ([]pubnub.App, int, error) {
			reads = append(reads, p)
			return []pubnub.App{{ID: fmt.Sprint(p), Name: "x"}}, 5 * limit, nil
		}
		require.Empty(t, find(list, 500))
		require.Equal(t, []int{5, 4, 3, 2, 1}, reads)
	})
}
