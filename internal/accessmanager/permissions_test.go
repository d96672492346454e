package accessmanager_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/accessmanager"
)

func TestPermissions(t *testing.T) {
	t.Parallel()

	t.Run("Bits", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, []accessmanager.Permissions{1, 2, 4, 8, 16, 32, 64, 128}, []accessmanager.Permissions{
			accessmanager.Read, accessmanager.Write, accessmanager.Manage, accessmanager.Delete,
			accessmanager.Create, accessmanager.Get, accessmanager.Update, accessmanager.Join,
		})
	})

	t.Run("Words", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, []string{"read", "write", "manage", "delete", "create", "get", "update", "join"}, accessmanager.Permissions(255).Words())
		require.Equal(t, []string{"get", "update"}, (accessmanager.Get | accessmanager.Update | 1<<10).Words(), "unknown bits have no word")
		require.Equal(t, []string{}, accessmanager.Permissions(0).Words())
		require.Equal(t, "read,join", (accessmanager.Read | accessmanager.Join).String())
		require.Equal(t, "none", accessmanager.Permissions(0).String())
	})

	t.Run("Allowed", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, []string{"read", "write", "manage", "delete", "get", "update", "join"}, accessmanager.Channels.Allowed().Words())
		require.Equal(t, []string{"read", "manage"}, accessmanager.Groups.Allowed().Words())
		require.Equal(t, []string{"delete", "get", "update"}, accessmanager.UUIDs.Allowed().Words())
		require.Equal(t, "channelGroups", accessmanager.Groups.String())
		require.Equal(t, "userIds", accessmanager.UUIDs.String())
	})

	t.Run("ParsePermissions", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name    string
			typ     accessmanager.ResourceType
			words   []string
			want    accessmanager.Permissions
			wantErr string
		}{
			{"ChannelReadWrite", accessmanager.Channels, []string{"read", "write"}, accessmanager.Read | accessmanager.Write, ""},
			{"ChannelAll", accessmanager.Channels, []string{"read", "write", "manage", "delete", "get", "update", "join"}, 239, ""},
			{"Repeated", accessmanager.Channels, []string{"read", "read"}, accessmanager.Read, ""},
			{"GroupReadManage", accessmanager.Groups, []string{"manage", "read"}, 5, ""},
			{"UUIDGetUpdateDelete", accessmanager.UUIDs, []string{"get", "update", "delete"}, 104, ""},
			{"ChannelCreate", accessmanager.Channels, []string{"create"}, 0, `"create" is not a permission for channels; use read, write, manage, delete, get, update, join`},
			{"GroupWrite", accessmanager.Groups, []string{"read", "write"}, 0, `"write" is not a permission for channelGroups; use read, manage`},
			{"UUIDRead", accessmanager.UUIDs, []string{"read"}, 0, `"read" is not a permission for userIds; use delete, get, update`},
			{"Unknown", accessmanager.Channels, []string{"Read"}, 0, `"Read" is not a permission for channels; use read, write, manage, delete, get, update, join`},
			{"Empty", accessmanager.Channels, nil, 0, "needs at least one permission"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()

				got, err := accessmanager.ParsePermissions(tt.typ, tt.words)

				if tt.wantErr != "" {
					require.EqualError(t, err, tt.wantErr)
					return
				}
				require.NoError(t, err)
				require.Equal(t, tt.want, got)
			})
		}
	})
}

func TestValidation(t *testing.T) {
	t.Parallel()

	t.Run("ValidTTL", func(t *testing.T) {
		t.Parallel()
		for _, ttl := range []int{1, 60, 43_200} {
			require.NoError(t, accessmanager.ValidTTL(ttl))
		}
		for _, ttl := range []int{0, -1, 43_201} {
			err := accessmanager.ValidTTL(ttl)
			var fe *accessmanager.FieldError
			require.ErrorAs(t, err, &fe)
			require.Equal(t, "ttl", fe.Field)
		}
	})

	t.Run("ValidPattern", func(t *testing.T) {
		t.Parallel()
		require.NoError(t, accessmanager.ValidPattern(`^acme\..*$`))
		require.EqualError(t, accessmanager.ValidPattern("("), "is not an RE2 regular expression: missing closing ): `(`")
		require.Error(t, accessmanager.ValidPattern(`(?=x)`), "lookahead is not RE2")
		require.Error(t, accessmanager.ValidPattern(""))
	})

	t.Run("ValidMetaValue", func(t *testing.T) {
		t.Parallel()
		for _, v := range []any{"s", true, 1, int64(-1), uint8(2), 1.5, float32(2), json.Number("3.5")} {
			require.NoError(t, accessmanager.ValidMetaValue(v), "%#v", v)
		}
		for _, v := range []any{nil, map[string]any{}, []any{1}, math.NaN(), math.Inf(1), json.Number("x"), struct{}{}} {
			require.Error(t, accessmanager.ValidMetaValue(v), "%#v", v)
		}
	})

	t.Run("GrantRequestValid", func(t *testing.T) {
		t.Parallel()
		req := accessmanager.GrantRequest{
			TTL:       60,
			Resources: accessmanager.Resources{Channels: perms("room-1", accessmanager.Read|accessmanager.Write)},
			Patterns:  accessmanager.Resources{Groups: perms(`^cg-.*$`, accessmanager.Read)},
			Meta:      map[string]any{"plan": "pro", "n": 1},
		}
		require.Nil(t, req.Validate())

		onlyPattern := accessmanager.GrantRequest{TTL: 1, Patterns: accessmanager.Resources{UUIDs: perms(".*", accessmanager.Get)}}
		require.Nil(t, onlyPattern.Validate())
	})

	t.Run("GrantRequestInvalid", func(t *testing.T) {
		t.Parallel()
		req := accessmanager.GrantRequest{
			TTL: 43_201,
			Resources: accessmanager.Resources{
				Channels: perms("c", accessmanager.Create|accessmanager.Read, "z", accessmanager.Permissions(0)),
				Groups:   perms("", accessmanager.Read, "g", accessmanager.Write),
				UUIDs:    perms("u", accessmanager.Permissions(1<<9)),
			},
			Patterns: accessmanager.Resources{Channels: perms("(", accessmanager.Read)},
			Meta:     map[string]any{"deep": map[string]any{"x": 1}},
		}

		require.Equal(t, []accessmanager.FieldError{
			{Field: "channelGroups", Message: "a name must not be empty"},
			{Field: "channelGroups.g", Message: "write not allowed for channelGroups; use read, manage"},
			{Field: "channels.c", Message: "create not allowed for channels; use read, write, manage, delete, get, update, join"},
			{Field: "channels.z", Message: "needs at least one permission"},
			{Field: "meta.deep", Message: "must be a string, number or boolean (meta holds scalars only)"},
			{Field: "patterns.channels.(", Message: "is not an RE2 regular expression: missing closing ): `(`"},
			{Field: "ttl", Message: "must be from 1 to 43200 minutes (30 days), got 43201"},
			{Field: "userIds.u", Message: "bits 0x200 not allowed for userIds; use delete, get, update"},
		}, req.Validate())
	})

	t.Run("GrantRequestWithoutResources", func(t *testing.T) {
		t.Parallel()
		req := accessmanager.GrantRequest{TTL: 60, Resources: accessmanager.Resources{Channels: perms()}}

		require.Equal(t, []accessmanager.FieldError{{Field: "resources", Message: "grant at least one channel, channel group, user ID or pattern"}}, req.Validate())
	})

	t.Run("ParseResources", func(t *testing.T) {
		t.Parallel()

		res, errs := accessmanager.ParseResources("patterns.", accessmanager.ResourceWords{
			Channels: map[string][]string{"^a$": {"read", "join"}, "^b$": {"fly"}},
			UUIDs:    map[string][]string{"^u$": {"get"}},
		})

		require.Equal(t, accessmanager.Resources{
			Channels: perms("^a$", accessmanager.Read|accessmanager.Join),
			UUIDs:    perms("^u$", accessmanager.Get),
		}, res)
		require.Equal(t, []accessmanager.FieldError{{Field: "patterns.channels.^b$", Message: `"fly" is not a permission for channels; use read, write, manage, delete, get, update, join`}}, errs)
		require.Equal(t, accessmanager.ResourceWords{
			Channels: map[string][]string{"^a$": {"read", "join"}},
			Groups:   map[string][]string{},
			UUIDs:    map[string][]string{"^u$": {"get"}},
		}, res.Words())
	})

	t.Run("ValidationErrorIsInvalidArgument", func(t *testing.T) {
		t.Parallel()
		err := error(&accessmanager.ValidationError{Fields: []accessmanager.FieldError{{Field: "ttl", Message: "bad"}, {Field: "meta.k", Message: "worse"}}})

		require.True(t, errors.Is(err, accessmanager.ErrInvalidArgument))
		require.True(t, accessmanager.IsPermanent(err))
		require.EqualError(t, err, "accessmanager: invalid grant request: ttl: bad; meta.k: worse")
	})

	t.Run("ValidationErrorNamesItsFields", func(t *testing.T) {
		t.Parallel()
		// The one interface the API reads field errors through (internal/invalid's Fielder).
		var err error = fmt.Errorf("grant: %w", &accessmanager.ValidationError{Fields: []accessmanager.FieldError{
			{Field: "channels.a", Message: "first"}, {Field: "channels.a", Message: "second"}, {Field: "ttl", Message: "bad"},
		}})
		var f interface{ FieldErrors() map[string]string }
		require.ErrorAs(t, err, &f)
		require.Equal(t, map[string]string{"channels.a": "first", "ttl": "bad"}, f.FieldErrors(), "the first message of a field")
	})
}

func TestGrantWords(t *testing.T) {
	t.Parallel()

	t.Run("Valid", func(t *testing.T) {
		t.Parallel()
		req, err := accessmanager.GrantWords{
			TTL: 15, AuthorizedUserID: "u-1",
			Resources: accessmanager.ResourceWords{Channels: map[string][]string{"room": {"read", "write"}}},
			Patterns:  accessmanager.ResourceWords{Groups: map[string][]string{"^g-.*$": {"manage"}}},
			Meta:      map[string]any{"plan": "pro"},
		}.Request()
		require.NoError(t, err)
		require.Equal(t, 15, req.TTL)
		require.Equal(t, "u-1", req.AuthorizedUserID)
		require.Equal(t, accessmanager.Read|accessmanager.Write, req.Resources.Channels["room"])
		require.Equal(t, accessmanager.Manage, req.Patterns.Groups["^g-.*$"])
		require.Equal(t, map[string]any{"plan": "pro"}, req.Meta)
		require.Empty(t, req.Validate())
	})

	fields := func(t *testing.T, w accessmanager.GrantWords) map[string]string {
		t.Helper()
		_, err := w.Request()
		var verr *accessmanager.ValidationError
		require.ErrorAs(t, err, &verr)
		require.True(t, slices.IsSortedFunc(verr.Fields, func(a, b accessmanager.FieldError) int { return strings.Compare(a.Field, b.Field) }))
		return verr.FieldErrors()
	}

	t.Run("EveryRuleInOneError", func(t *testing.T) {
		t.Parallel()
		got := fields(t, accessmanager.GrantWords{
			TTL:       43_201,
			Resources: accessmanager.ResourceWords{Channels: map[string][]string{"room": {"fly"}, "ok": {"read"}}},
			Patterns:  accessmanager.ResourceWords{Channels: map[string][]string{"(": {"read"}}},
			Meta:      map[string]any{"a": []any{1}},
		})
		require.Equal(t, []string{"channels.room", "meta.a", "patterns.channels.(", "ttl"}, slices.Sorted(maps.Keys(got)))
		require.Contains(t, got["channels.room"], `"fly" is not a permission for channels`)
		require.Contains(t, got["ttl"], "must be from 1 to 43200 minutes")
		require.Contains(t, got["patterns.channels.("], "is not an RE2 regular expression")
	})

	t.Run("NamesRefusedAreNotNoResources", func(t *testing.T) {
		t.Parallel()
		got := fields(t, accessmanager.GrantWords{TTL: 5, Resources: accessmanager.ResourceWords{Groups: map[string][]string{"g": {"write"}}}})
		require.Equal(t, map[string]string{"channelGroups.g": `"write" is not a permission for channelGroups; use read, manage`}, got)
	})

	t.Run("NoResources", func(t *testing.T) {
		t.Parallel()
		got := fields(t, accessmanager.GrantWords{TTL: 5, Resources: accessmanager.ResourceWords{Channels: map[string][]string{}}})
		require.Equal(t, []string{"resources"}, slices.Collect(maps.Keys(got)))
	})
}
