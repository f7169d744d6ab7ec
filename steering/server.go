package steering

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/cmafkit/cmafkit/internal/httpx"
)

// Clone is a pathway a client makes from another by replacing the host
// of its URIs (HLS PATHWAY-CLONES; dash.js reads them too): a CDN added
// without touching the manifests.
type Clone struct {
	BaseID string `json:"BASE-ID"`
	ID     string `json:"ID"`
	// Host replaces the host of the base pathway's URIs.
	Host string `json:"-"`
}

// Policy decides the pathway priority the steering server answers with.
// It is safe for concurrent use; the service changes it at run time.
type Policy struct {
	mu       sync.RWMutex
	pathways []string
	weights  map[string]float64
	down     map[string]bool
	clones   []Clone
	ttl      time.Duration
}

// NewPolicy returns a policy over the pathways, in that order of
// preference, all up, with equal weights off (strict order) and a TTL of
// 300 s.
func NewPolicy(pathways ...string) *Policy {
	return &Policy{pathways: slices.Clone(pathways), down: map[string]bool{}, ttl: 300 * time.Second}
}

// SetDown marks a pathway down (left out of the priority while another is
// up) or up again.
func (p *Policy) SetDown(id string, down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down[id] = down
}

// SetWeights spreads clients over the pathways: each answer orders them
// by a draw weighted by these shares (a pathway without a weight, or with
// weight 0, comes last). Nil restores the fixed order.
func (p *Policy) SetWeights(w map[string]float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.weights = w
}

// SetClones sets the pathway clones the answers carry.
func (p *Policy) SetClones(c []Clone) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clones = slices.Clone(c)
}

// SetTTL sets how long clients keep an answer before asking again (at
// least one second).
func (p *Policy) SetTTL(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ttl = max(d, time.Second)
}

// Priority returns the pathway order of one answer: the pathways that are
// up, in the configured order or by a weighted draw, then those down
// (clients skip nothing they are told of, so a CDN marked down is only a
// last resort).
func (p *Policy) Priority() []string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	order := slices.Clone(p.pathways)
	for _, c := range p.clones {
		order = append(order, c.ID)
	}
	if p.weights != nil {
		// Weighted draw without replacement: key u^(1/w), highest first.
		keys := map[string]float64{}
		for _, id := range order {
			if w := p.weights[id]; w > 0 {
				keys[id] = math.Pow(rand.Float64(), 1/w)
			} else {
				keys[id] = -1
			}
		}
		sort.SliceStable(order, func(i, j int) bool { return keys[order[i]] > keys[order[j]] })
	}
	var up, down []string
	for _, id := range order {
		if p.down[id] {
			down = append(down, id)
		} else {
			up = append(up, id)
		}
	}
	if len(up) == 0 {
		return down
	}
	return up
}

// Manifest is a steering manifest (HLS 7.2 / DASH-IF content steering).
type Manifest struct {
	Version   int           `json:"VERSION"`
	TTL       int           `json:"TTL"`
	ReloadURI string        `json:"RELOAD-URI,omitempty"`
	Priority  []string      `json:"PATHWAY-PRIORITY"`
	Clones    []clonePolicy `json:"PATHWAY-CLONES,omitempty"`
}

type clonePolicy struct {
	BaseID      string         `json:"BASE-ID"`
	ID          string         `json:"ID"`
	Replacement map[string]any `json:"URI-REPLACEMENT"`
}

// Manifest returns the answer to one steering request.
func (p *Policy) Manifest(reloadURI string) Manifest {
	m := Manifest{Version: 1, ReloadURI: reloadURI, Priority: p.Priority()}
	p.mu.RLock()
	m.TTL = int(p.ttl / time.Second)
	for _, c := range p.clones {
		m.Clones = append(m.Clones, clonePolicy{BaseID: c.BaseID, ID: c.ID, Replacement: map[string]any{"HOST": c.Host}})
	}
	p.mu.RUnlock()
	return m
}

// Handler serves the steering manifest of p as JSON to GET requests, with
// CORS headers (the players fetch it from the page's origin) and no
// caching. RELOAD-URI is the request's own path, so a client keeps asking
// this server; the query parameters players add (_HLS_pathway,
// _HLS_throughput, _DASH_pathway, _DASH_throughput) are theirs to add again.
func Handler(p *Policy) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		if !httpx.ReadOnly(w, r, &httpx.CORS{}) {
			return
		}
		m := p.Manifest(r.URL.EscapedPath())
		b, err := json.Marshal(m)
		if err != nil {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		w.Write(b)
	})
}
