package provisioner

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/pubnub"
)

func TestFindRecent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	marker := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	// listing is n apps, one a minute, the last `recent` of them made after marker; the
	// ones named "ours" are the candidates.
	listing := func(n, recent int, ours ...int) (page[pubnub.App], *[]int) {
		var reads []int
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
		return func(_ context.Context, p int) ([]pubnub.App, int, error) {
			reads = append(reads, p)
			from := min((p-1)*pubnub.PageSize, n)
			return apps[from:min(from+pubnub.PageSize, n)], n, nil
		}, &reads
	}
	find := func(list page[pubnub.App], guess int) []string {
		found, err := findRecent(ctx, list, guess, func(a pubnub.App) time.Time { return a.CreatedAt },
			func(a pubnub.App) bool { return a.Name == "ours" }, marker)
		require.NoError(t, err)
		var ids []string
		for _, a := range found {
			ids = append(ids, a.ID)
		}
		return ids
	}

	t.Run("ARightGuessReadsTheLastPageAndNoMore", func(t *testing.T) {
		t.Parallel()
		list, reads := listing(10_050, 3, 10_049) // the last page holds 50, all but 3 older
		require.Equal(t, []string{"10049"}, find(list, 101))
		require.Equal(t, []int{101}, *reads)
	})

	t.Run("AShortLastPageReadsTheOneBefore", func(t *testing.T) {
		t.Parallel()
		list, reads := listing(10_001, 1, 10_000)
		require.Equal(t, []string{"10000"}, find(list, 101))
		require.Equal(t, []int{101, 100}, *reads)
	})

	t.Run("AWrongGuessCostsOneCall", func(t *testing.T) {
		t.Parallel()
		list, reads := listing(10_050, 3, 10_049)
		require.Equal(t, []string{"10049"}, find(list, 1))
		require.Equal(t, []int{1, 101}, *reads)
	})

	t.Run("EveryCandidateSinceTheMarkerIsFound", func(t *testing.T) {
		t.Parallel()
		list, _ := listing(10_050, 120, 9_940, 10_049) // a duplicate a page earlier
		require.ElementsMatch(t, []string{"9940", "10049"}, find(list, 101))
	})

	t.Run("WithoutCreationTimesItReadsEverything", func(t *testing.T) {
		t.Parallel()
		var reads []int
		list := func(_ context.Context, p int) ([]pubnub.App, int, error) {
			reads = append(reads, p)
			return []pubnub.App{{ID: fmt.Sprint(p), Name: "x"}}, 5 * pubnub.PageSize, nil
		}
		require.Empty(t, find(list, 1))
		require.Equal(t, []int{1, 5, 4, 3, 2}, reads)
	})
}
