package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
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
	fs.StringVar(&p.scheme, "encryption", "", "encrypt with `scheme` cenc (AES-CTR), cbcs (AES-CBC, 1:9 pattern), cens (AES-CTR, 1:9 pattern) or cbc1 (AES-CBC); cens and cbc1 are for DASH only (--dash; no HLS method, FairPlay or PlayReady)")
	fs.StringVar(&p.keys, "key", "", "content key as `KID:KEY` (hex, UUID or base64), for every track; with --crypto-period, several comma-separated pairs are used in turn")
	fs.StringVar(&p.iv, "iv", "", "`IV` in hex for every track: 16 bytes (cbcs constant IV; cbc1 first sample's IV) or 8/16 bytes (cenc, cens: the first sample's IV); random per track when omitted. With cenc and cens it is refused when two tracks share a key (with --key all tracks do)")
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
	cfg, err := p.config(job.Logger)
	if err != nil || cfg == nil {
		return err
	}
	job.Encryption = cfg
	return nil
}

// config returns the drm configuration the flags ask for: nil without
// --encryption (the other protection flags are then refused rather than
// ignored).
func (p *protectionFlags) config(logger *slog.Logger) (*drm.Config, error) {
	if p.scheme == "" {
		if p.keys != "" || p.iv != "" || p.systems != "" || p.cpixFile != "" || p.cryptoPeriod != 0 {
			return nil, usageError{"--key, --iv, --drm, --cpix and --crypto-period need --encryption cenc|cbcs|cens|cbc1"}
		}
		return nil, nil
	}
	if p.cryptoPeriod < 0 {
		return nil, usageError{"--crypto-period must be a positive number of segments"}
	}
	scheme, err := drm.ParseScheme(p.scheme)
	if err != nil {
		return nil, usageError{fmt.Sprintf("--encryption: %v", err)}
	}
	if _, err := drm.FairPlayURI(p.fairplayURI, drm.KID{}); err != nil {
		return nil, usageError{fmt.Sprintf("--fairplay-uri: %v", err)}
	}
	cfg := drm.Config{Scheme: scheme, OmitPSSH: p.omitPSSH, CryptoPeriod: p.cryptoPeriod, Logger: logger}
	cfg.SignalingOptions = drm.SignalingOptions{FairPlayURI: p.fairplayURI, PlayReadyLAURL: p.playreadyLAURL, ClearKeyLAURL: p.clearkeyLAURL}
	if p.systems != "" {
		if cfg.Systems, err = drm.ParseSystems(p.systems); err != nil {
			return nil, usageError{fmt.Sprintf("--drm: %v", err)}
		}
	}
	if p.iv != "" {
		if cfg.IV, err = drm.ParseIV(p.iv); err != nil {
			return nil, usageError{fmt.Sprintf("--iv: %v", err)}
		}
	}
	switch {
	case p.cpixFile != "" && p.keys != "":
		return nil, usageError{"give keys with --key or --cpix, not both"}
	case p.cpixFile != "":
		doc, err := cpix.ReadFile(p.cpixFile)
		if err != nil {
			return nil, err
		}
		cfg.Keys = doc
		if len(cfg.Systems) == 0 {
			cfg.Systems = doc.SystemList() // signal what the key server prepared
		}
	case p.keys != "":
		keys, err := drm.ParseKeyPairs(p.keys)
		if err != nil {
			return nil, usageError{fmt.Sprintf("--key: %v", err)}
		}
		cfg.Keys = &drm.StaticKeys{Default: keys}
	default:
		// A generated key would have to be printed or stored for the output
		// to be playable; the CLI never prints secrets, so ask for them.
		return nil, usageError{"--encryption needs --key KID:KEY or --cpix FILE"}
	}
	if err := cfg.Validate(); err != nil {
		// The flags disagree (FairPlay with cenc, an 8-byte IV with cbcs).
		return nil, usageError{err.Error()}
	}
	return &cfg, nil
}
