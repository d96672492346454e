package pubnub

import (
	"fmt"
	"slices"
	"strings"
)

// Problems returns, one message each, the documented rules that c breaks as the
// configuration of a keyset create (or a config PATCH of a keyset that has no region set
// yet), or nil when PubNub should accept it: PubNub answers such a config with 400, and
// there is no dry run, so this is how a config is checked without creating anything. The
// rules are those of docs/pubnub.md, as the sandbox enforces them (a test holds the two
// equal):
//
//   - messagePersistence.retention and files.retention: 0 (unlimited), 1, 7, 30, 90, 180 or 365;
//   - appContext.region: aws-iad-1, aws-pdx-1, aws-fra-1, aws-bom-1 or aws-hnd-1, and
//     required when App Context is enabled; dataSync.region: the same regions (assumed);
//   - files.region: us-east-1, us-west-1, eu-central-1, ap-south-1 or ap-northeast-1;
//   - streamController.channelGroupLimit 1 to 2000; presence.announceMax 0 to 100,
//     presence.interval 10 to 300, presence.debounce not negative.
//
// Fields left nil keep PubNub's defaults, which break no rule.
func (c *KeysetConfig) Problems() []string {
	if c == nil {
		return nil
	}
	var errs []string
	oneOf := func(name string, v *string, allowed ...string) {
		if v != nil && !slices.Contains(allowed, *v) {
			errs = append(errs, fmt.Sprintf("%s must be one of: %s (got %q)", name, strings.Join(allowed, ", "), *v))
		}
	}
	retention := func(name string, v *int) {
		if v != nil && !slices.Contains([]int{0, 1, 7, 30, 90, 180, 365}, *v) {
			errs = append(errs, fmt.Sprintf("%s must be one of: 0, 1, 7, 30, 90, 180, 365 (got %d)", name, *v))
		}
	}
	between := func(name string, v *int, lo, hi int) {
		if v != nil && (*v < lo || *v > hi) {
			errs = append(errs, fmt.Sprintf("%s must be between %d and %d (got %d)", name, lo, hi, *v))
		}
	}
	appContextRegions := []string{"aws-iad-1", "aws-pdx-1", "aws-fra-1", "aws-bom-1", "aws-hnd-1"}

	if mp := c.MessagePersistence; mp != nil {
		retention("messagePersistence.retention", mp.Retention)
	}
	if ac := c.AppContext; ac != nil {
		oneOf("appContext.region", ac.Region, appContextRegions...)
		if ac.Enabled != nil && *ac.Enabled && ac.Region == nil {
			errs = append(errs, "appContext.region is required when App Context is enabled")
		}
	}
	if f := c.Files; f != nil {
		retention("files.retention", f.Retention)
		oneOf("files.region", f.Region, "us-east-1", "us-west-1", "eu-central-1", "ap-south-1", "ap-northeast-1")
	}
	if sc := c.StreamController; sc != nil {
		between("streamController.channelGroupLimit", sc.ChannelGroupLimit, 1, 2000)
	}
	if p := c.Presence; p != nil {
		between("presence.announceMax", p.AnnounceMax, 0, 100)
		between("presence.interval", p.Interval, 10, 300)
		if p.Debounce != nil && *p.Debounce < 0 {
			errs = append(errs, fmt.Sprintf("presence.debounce must not be negative (got %d)", *p.Debounce))
		}
	}
	if ds := c.DataSync; ds != nil {
		oneOf("dataSync.region", ds.Region, appContextRegions...)
	}
	return errs
}
