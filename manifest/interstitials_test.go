package manifest_test

import (
	"errors"
	"testing"

	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/manifest/internal/manifesttest"
)

func TestInterstitialsValidate(t *testing.T) {
	for _, tc := range []struct {
		in *manifest.Interstitials
		ok bool
	}{
		{&manifest.Interstitials{AssetURI: "https://ads.example/a.m3u8"}, true},
		{&manifest.Interstitials{AssetList: "https://ads.example/list.json?id={id}", Restrict: "SKIP,JUMP"}, true},
		{&manifest.Interstitials{}, false},
		{&manifest.Interstitials{AssetURI: "a", AssetList: "b"}, false},
		{&manifest.Interstitials{AssetURI: `a"b`}, false},
		{&manifest.Interstitials{AssetURI: "a", Restrict: "PAUSE"}, false},
	} {
		p := manifesttest.Cued()
		p.HLSInterstitials = tc.in
		err := p.Validate()
		if tc.ok != (err == nil) || err != nil && !errors.Is(err, manifest.ErrCue) {
			t.Errorf("%+v: %v", tc.in, err)
		}
	}
}
