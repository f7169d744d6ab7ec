package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/packager"
)

// FuzzProtectionFlags runs the encryption flags of "cmafkit package"
// (--encryption, --key, --iv, --drm, --crypto-period) through
// protectionFlags.apply: a refusal is a usage error (exit status 2) that
// never quotes a valid key; an acceptance configures protection exactly
// when --encryption is given, and only with values the drm parsers accept.
//
// The values stay short (a scheme, two key pairs, an IV and a few systems
// reach every check); longer values only make minimizing slower.
func FuzzProtectionFlags(f *testing.F) {
	const pair = "11111111111111111111111111111111:00112233445566778899aabbccddeeff"
	f.Add("cenc", pair, "", "", 0)
	f.Add("cbcs", pair+",22222222-2222-2222-2222-222222222222:ABEiM0RVZneImaq7zN3u/w==", "0x00112233445566778899aabbccddeeff", "fairplay,widevine", 2)
	f.Add("cenc", pair, "0011223344556677", "fairplay", 0)
	f.Add("cbcs", pair, "0011223344556677", "playready", -1)
	f.Add("", pair, "", "", 0)
	f.Add("", "", "", "", 0)
	f.Add("CENC ", "x:y", "zz", "primetime", 1)
	f.Fuzz(func(t *testing.T, scheme, keys, iv, systems string, period int) {
		// Longer values are skipped: the Go fuzzer minimizes every input
		// that finds new coverage by removing each byte range of each
		// value (quadratic in the length) and runs nothing else meanwhile.
		if len(scheme) > 16 || len(keys) > 128 || len(iv) > 40 || len(systems) > 40 {
			return
		}
		p := protectionFlags{scheme: scheme, keys: keys, iv: iv, systems: systems, cryptoPeriod: period}
		var job packager.Job
		err := p.apply(context.Background(), &job)
		if err != nil {
			if exitCode(err) != 2 {
				t.Fatalf("%+v: %v is not a usage error", p, err)
			}
			for _, part := range strings.Split(keys, ",") {
				if _, keyS, ok := strings.Cut(strings.TrimSpace(part), ":"); ok {
					if _, kerr := drm.ParseKey(keyS); kerr == nil && strings.Contains(err.Error(), strings.TrimSpace(keyS)) {
						t.Fatalf("%+v: the error %q quotes a key", p, err)
					}
				}
			}
			if job.Encryption != nil {
				t.Fatalf("%+v: refused (%v) but protection configured", p, err)
			}
			return
		}
		if scheme == "" {
			if job.Encryption != nil || keys != "" || iv != "" || systems != "" || period != 0 {
				t.Fatalf("%+v: accepted without --encryption", p)
			}
			return
		}
		if job.Encryption == nil {
			t.Fatalf("%+v: accepted, but no protection configured", p)
		}
		_, serr := drm.ParseScheme(scheme)
		_, kerr := drm.ParseKeyPairs(keys)
		var ierr, yerr error
		if iv != "" {
			_, ierr = drm.ParseIV(iv)
		}
		if systems != "" {
			_, yerr = drm.ParseSystems(systems)
		}
		if err := errors.Join(serr, kerr, ierr, yerr); err != nil || period < 0 {
			t.Fatalf("%+v: accepted although %v", p, err)
		}
	})
}
