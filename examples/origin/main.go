// Command origin embeds a just-in-time origin in a Go service with routes
// of its own: the titles under a directory are served as HLS and DASH
// under /vod/, encrypted with cbcs under /vod/cbcs/, next to a health
// check and a steering server that sends players to a second CDN when
// the first is marked down:
//
//	go run ./examples/origin -root testdata
//	curl http://127.0.0.1:8080/vod/ladder_720p.mp4/master.m3u8
//	curl -X POST 'http://127.0.0.1:8080/admin/down?cdn=cdn-a'
package main

import (
	"flag"
	"log"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/origin"
	"github.com/cmafkit/cmafkit/steering"
)

func main() {
	root := flag.String("root", "testdata", "directory of titles")
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	flag.Parse()

	src, err := origin.Dir(*root)
	if err != nil {
		log.Fatal(err)
	}
	// A real service gets its keys from a key server (origin.KeyFunc) or a
	// CPIX document per title (origin.CPIXKeys), never from source code.
	key, err := drm.NewKey()
	if err != nil {
		log.Fatal(err)
	}
	kid, err := drm.NewKID()
	if err != nil {
		log.Fatal(err)
	}
	policy := steering.NewPolicy("cdn-a", "cdn-b")
	policy.SetTTL(10 * time.Second)
	h, err := origin.New(origin.Config{
		Source:          src,
		Keys:            &origin.StaticKeys{Default: []drm.ContentKey{{KID: kid, Key: key}}},
		SegmentDuration: 4 * time.Second,
		Logger:          slog.New(slog.NewTextHandler(os.Stderr, nil)),
		Steering: &steering.Config{
			ServerURI: "http://" + *addr + "/steering.json",
			Pathways: []steering.Pathway{
				{ID: "cdn-a", BaseURL: "http://" + *addr + "/vod/"},
				{ID: "cdn-b", BaseURL: "http://" + *addr + "/vod/"}, // another CDN in front of the same origin
			},
		},
	})
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.Handle("/vod/", http.StripPrefix("/vod", h))
	mux.Handle("GET /steering.json", steering.Handler(policy))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("POST /admin/down", func(w http.ResponseWriter, r *http.Request) {
		policy.SetDown(r.URL.Query().Get("cdn"), r.URL.Query().Get("up") == "")
	})
	log.Printf("serving %s at http://%s/vod/TITLE/master.m3u8", *root, *addr)
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
