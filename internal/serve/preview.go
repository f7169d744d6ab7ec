package serve

import (
	"bytes"
	"embed"
	"errors"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

// assets holds the preview page's script and the Shaka Player UI build
// (shaka-player.ui.js and controls.css, copied from the shaka-player npm
// package pinned in internal/playertest/js/package.json) with its licence.
//
//go:embed assets/shaka-player.ui.js assets/controls.css assets/shaka-player.LICENSE assets/preview.js assets/whep.js
var assets embed.FS

// ShakaVersion is the version of the embedded Shaka Player build.
const ShakaVersion = "5.2.12"

// Manifest is one playable manifest found in the served tree.
type Manifest struct {
	Path string // slash-separated, relative to the served root
	Kind string // "HLS" or "DASH"
}

// FindManifests walks fsys and returns the DASH manifests (.mpd) and HLS
// multivariant playlists (.m3u8 with #EXT-X-STREAM-INF) in lexical order. When
// the tree has no multivariant playlist it returns the HLS media playlists
// instead, so a lone audio or video playlist can still be previewed. At most
// maxWalk entries are visited and maxFound manifests returned; truncated
// reports whether either bound was hit.
func FindManifests(fsys fs.FS, maxWalk, maxFound int) (found []Manifest, truncated bool, err error) {
	var media []Manifest
	visited := 0
	errStop := errors.New("stop")
	walkErr := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == "." {
				return err
			}
			return nil // unreadable entries are skipped, not fatal for a preview
		}
		visited++
		if visited > maxWalk || len(found) >= maxFound {
			truncated = true
			return errStop
		}
		if d.IsDir() {
			if p != "." && strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir
			}
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") || hasControl(p) {
			return nil // not served
		}
		switch strings.ToLower(path.Ext(p)) {
		case ".mpd":
			found = append(found, Manifest{Path: p, Kind: "DASH"})
		case ".m3u8":
			if isMultivariant(fsys, p) {
				found = append(found, Manifest{Path: p, Kind: "HLS"})
			} else if len(media) < maxFound {
				media = append(media, Manifest{Path: p, Kind: "HLS"})
			}
		}
		return nil
	})
	if walkErr != nil && !errors.Is(walkErr, errStop) {
		return nil, false, walkErr
	}
	hasHLS := false
	for _, m := range found {
		hasHLS = hasHLS || m.Kind == "HLS"
	}
	if !hasHLS {
		for _, m := range media {
			if len(found) >= maxFound {
				truncated = true
				break
			}
			found = append(found, m)
		}
	}
	return found, truncated, nil
}

// isMultivariant reads at most 64 KiB of an HLS playlist: enough to see a
// variant tag in any multivariant playlist a packager writes.
func isMultivariant(fsys fs.FS, name string) bool {
	f, err := fsys.Open(name)
	if err != nil {
		return false
	}
	defer f.Close()
	b, _ := io.ReadAll(io.LimitReader(f, 64<<10))
	return bytes.Contains(b, []byte("#EXT-X-STREAM-INF"))
}

type previewData struct {
	Manifests    []Manifest
	Truncated    bool
	Selected     string
	SelectedKind string
	Asset        string
	ShakaVersion string
	Error        string
	WHEP         string // WHEP endpoint path, empty for none
}

var previewTmpl = template.Must(template.New("preview").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>cmafkit preview{{if .Selected}} – {{.Selected}}{{end}}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{{.Asset}}controls.css">
<style>
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; }
main { display: flex; gap: 1.5rem; flex-wrap: wrap; }
nav { min-width: 16rem; }
nav ul { list-style: none; padding: 0; }
nav li { margin: .3rem 0; }
nav a.sel { font-weight: bold; }
.kind { display: inline-block; width: 3.2rem; font-size: .8rem; color: #666; }
.player { flex: 1; min-width: 320px; max-width: 1024px; }
.player video { width: 100%; background: #000; }
#status { margin-top: .5rem; font-size: .9rem; color: #444; word-break: break-word; }
#status.error { color: #b00020; }
footer { margin-top: 2rem; font-size: .8rem; color: #666; }
</style>
</head>
<body{{if .Selected}} data-manifest="/{{.Selected}}"{{end}}>
<h1>cmafkit preview</h1>
<main>
<nav>
<h2>Manifests</h2>
{{if .Error}}<p class="error">{{.Error}}</p>{{end}}
{{if .Manifests}}<ul>
{{range .Manifests}}<li><span class="kind">{{.Kind}}</span><a href="/?play={{.Path}}"{{if eq .Path $.Selected}} class="sel"{{end}}>{{.Path}}</a></li>
{{end}}</ul>{{if .Truncated}}<p>(list truncated)</p>{{end}}
{{else}}<p>No .mpd or .m3u8 manifest found in the served directory.</p>{{end}}
</nav>
{{if .Selected}}<section class="player">
<h2>{{.SelectedKind}}: {{.Selected}}</h2>
<div data-shaka-player-container><video data-shaka-player id="video" playsinline></video></div>
<div id="status"></div>
</section>{{end}}
{{if .WHEP}}<section class="player" id="whep-player" data-whep="{{.WHEP}}">
<h2>WebRTC (WHEP): {{.WHEP}}</h2>
<video id="whep-video" playsinline muted controls></video>
<div><button id="whep-start" type="button">Play with WebRTC</button> <button id="whep-stop" type="button" disabled>Stop</button></div>
<div id="whep-status"></div>
</section>{{end}}
</main>
<footer>Player: <a href="https://github.com/shaka-project/shaka-player">Shaka Player</a> {{.ShakaVersion}}, embedded (<a href="{{.Asset}}shaka-player.LICENSE">Apache License 2.0</a>).</footer>
{{if .Selected}}<script src="{{.Asset}}shaka-player.ui.js"></script>
<script src="{{.Asset}}preview.js"></script>{{end}}
{{if .WHEP}}<script src="{{.Asset}}whep.js"></script>{{end}}
</body>
</html>
`))

func (h *handler) servePreview(w http.ResponseWriter, r *http.Request) {
	d := previewData{Asset: AssetPrefix, ShakaVersion: ShakaVersion, WHEP: h.cfg.WHEP}
	ms, truncated, err := FindManifests(h.root, h.cfg.MaxWalk, h.cfg.MaxManifests)
	if err != nil {
		d.Error = "cannot list the served directory: " + err.Error()
	}
	d.Manifests, d.Truncated = ms, truncated
	if sel := r.URL.Query().Get("play"); sel != "" {
		// Only a manifest from the list can be chosen, so the page never
		// points the player at an arbitrary URL taken from the query.
		for _, m := range ms {
			if m.Path == sel {
				d.Selected, d.SelectedKind = m.Path, m.Kind
			}
		}
		if d.Selected == "" {
			d.Error = "not a manifest in this directory: " + sel
		}
	} else if len(ms) > 0 {
		d.Selected, d.SelectedKind = ms[0].Path, ms[0].Kind
	}
	var buf bytes.Buffer
	if err := previewTmpl.Execute(&buf, d); err != nil {
		http.Error(w, "cannot render preview", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(buf.Bytes())
}
