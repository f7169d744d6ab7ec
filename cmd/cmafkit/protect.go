package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/drm/cpix"
	"github.com/cmafkit/cmafkit/packager"
)

// protectionFlags are the encryption flags of "cmafkit package".
type protectionFlags struct {
	scheme, keys, iv, systems, fairplayURI, playreadyLAURL, clearkeyLAURL, cpixFile string
	omitPSSH                                                                        bool
	cryptoPeriod                                                                    int
}

func (p *protectionFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&p.scheme, "encryption", "", "encrypt with `scheme` cenc (AES-CTR) or cbcs (AES-CBC pattern)")
	fs.StringVar(&p.keys, "key", "", "content key as `KID:KEY` (hex, UUID or base64), for every track; with --crypto-period, several comma-separated pairs are used in turn")
	fs.StringVar(&p.iv, "iv", "", "`IV` in hex for every track: 16 bytes (cbcs constant IV) or 8/16 bytes (cenc: the first sample's IV); random per track when omitted. With cenc it is refused when two tracks share a key (with --key all tracks do)")
	fs.StringVar(&p.systems, "drm", "", "DRM `systems` to signal: widevine,playready,fairplay,clearkey (default: those of the CPIX document, else clearkey)")
	fs.StringVar(&p.fairplayURI, "fairplay-uri", "", "FairPlay key `URI` template (skd://...), in which "+strings.Join(drm.FairPlayURIPlaceholders(), ", ")+
		" are replaced by the KID as hex, hex, UUID and base64; other {...} are refused (default skd://{KID})")
	fs.StringVar(&p.playreadyLAURL, "playready-la-url", "", "PlayReady license acquisition `URL`")
	fs.StringVar(&p.clearkeyLAURL, "clearkey-la-url", "", "ClearKey license server `URL` (DASH dashif:laurl)")
	fs.StringVar(&p.cpixFile, "cpix", "", "read keys (and DRM signalling) from a CPIX `file`")
	fs.IntVar(&p.cryptoPeriod, "crypto-period", 0, "rotate keys every `N` segments, using the --key pairs (or CPIX keys) in turn; pssh boxes then go into each moof too")
	fs.BoolVar(&p.omitPSSH, "no-pssh-in-init", false, "signal DRM systems in the manifests only, not with pssh boxes in init segments")
}

// apply configures job.Encryption from the flags; without --encryption it
// refuses the other protection flags rather than ignoring them.
func (p *protectionFlags) apply(ctx context.Context, job *packager.Job) error {
	if p.scheme == "" {
		if p.keys != "" || p.iv != "" || p.systems != "" || p.cpixFile != "" || p.cryptoPeriod != 0 {
			return usageError{"--key, --iv, --drm, --cpix and --crypto-period need --encryption cenc|cbcs"}
		}
		return nil
	}
	if p.cryptoPeriod < 0 {
		return usageError{"--crypto-period must be a positive number of segments"}
	}
	scheme, err := drm.ParseScheme(p.scheme)
	if err != nil {
		return usageError{fmt.Sprintf("--encryption: %v", err)}
	}
	if _, err := drm.FairPlayURI(p.fairplayURI, drm.KID{}); err != nil {
		return usageError{fmt.Sprintf("--fairplay-uri: %v", err)}
	}
	cfg := drm.Config{Scheme: scheme, OmitPSSH: p.omitPSSH, CryptoPeriod: p.cryptoPeriod, Logger: job.Logger}
	cfg.SignalingOptions = drm.SignalingOptions{FairPlayURI: p.fairplayURI, PlayReadyLAURL: p.playreadyLAURL, ClearKeyLAURL: p.clearkeyLAURL}
	if p.systems != "" {
		if cfg.Systems, err = drm.ParseSystems(p.systems); err != nil {
			return usageError{fmt.Sprintf("--drm: %v", err)}
		}
	}
	if p.iv != "" {
		if cfg.IV, err = drm.ParseIV(p.iv); err != nil {
			return usageError{fmt.Sprintf("--iv: %v", err)}
		}
	}
	switch {
	case p.cpixFile != "" && p.keys != "":
		return usageError{"give keys with --key or --cpix, not both"}
	case p.cpixFile != "":
		doc, err := cpix.ReadFile(p.cpixFile)
		if err != nil {
			return err
		}
		cfg.Keys = doc
		if len(cfg.Systems) == 0 {
			cfg.Systems = doc.SystemList() // signal what the key server prepared
		}
	case p.keys != "":
		keys, err := drm.ParseKeyPairs(p.keys)
		if err != nil {
			return usageError{fmt.Sprintf("--key: %v", err)}
		}
		cfg.Keys = &drm.StaticKeys{Default: keys}
	default:
		// A generated key would have to be printed or stored for the output
		// to be playable; the CLI never prints secrets, so ask for them.
		return usageError{"--encryption needs --key KID:KEY or --cpix FILE"}
	}
	if err := cfg.Validate(); err != nil {
		// The flags disagree (FairPlay with cenc, an 8-byte IV with cbcs).
		return usageError{err.Error()}
	}
	job.Encryption = &cfg
	return nil
}
