package playertest

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// ClearKeyLicenseHandler is a W3C ClearKey license server (EME §9.1.3): it
// answers a POSTed {"kids": [...], "type": ...} request with the keys it knows
// among those asked for, as a JSON Web Key set. Requests for unknown KIDs only
// get 403, which players surface as a license error.
func ClearKeyLicenseHandler(keys map[[16]byte][16]byte) http.Handler {
	return clearKeyHandler(keys, nil)
}

// clearKeyHandler is ClearKeyLicenseHandler calling served (if not nil) for
// every key it answers with.
func clearKeyHandler(keys map[[16]byte][16]byte, served func(kid [16]byte)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		switch r.Method {
		case http.MethodOptions:
			w.Header().Set("Access-Control-Allow-Methods", "POST, OPTIONS")
			w.Header().Set("Access-Control-Allow-Headers", "Content-Type")
			w.WriteHeader(http.StatusNoContent)
			return
		case http.MethodPost:
		default:
			http.Error(w, "POST a ClearKey license request", http.StatusMethodNotAllowed)
			return
		}
		var req struct {
			KIDs []string `json:"kids"`
			Type string   `json:"type"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil {
			http.Error(w, "bad license request: "+err.Error(), http.StatusBadRequest)
			return
		}
		type jwk struct {
			Kty string `json:"kty"`
			KID string `json:"kid"`
			K   string `json:"k"`
		}
		resp := struct {
			Keys []jwk  `json:"keys"`
			Type string `json:"type"`
		}{Type: req.Type}
		if resp.Type == "" {
			resp.Type = "temporary"
		}
		for _, s := range req.KIDs {
			kid, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
			if err != nil || len(kid) != 16 {
				continue
			}
			if key, ok := keys[[16]byte(kid)]; ok {
				resp.Keys = append(resp.Keys, jwk{Kty: "oct", KID: base64.RawURLEncoding.EncodeToString(kid), K: base64.RawURLEncoding.EncodeToString(key[:])})
				if served != nil {
					served([16]byte(kid))
				}
			}
		}
		if len(resp.Keys) == 0 {
			http.Error(w, "no key for the requested KIDs", http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(resp)
	})
}

// parseClearKeys turns hex KID → hex key pairs into bytes.
func parseClearKeys(in map[string]string) (map[[16]byte][16]byte, error) {
	out := make(map[[16]byte][16]byte, len(in))
	for k, v := range in {
		kid, err := hex.DecodeString(strings.ReplaceAll(k, "-", ""))
		if err != nil || len(kid) != 16 {
			return nil, fmt.Errorf("playertest: ClearKeys: KID %q is not 32 hex digits", k)
		}
		key, err := hex.DecodeString(v)
		if err != nil || len(key) != 16 {
			return nil, fmt.Errorf("playertest: ClearKeys: key for KID %q is not 32 hex digits", k)
		}
		out[[16]byte(kid)] = [16]byte(key)
	}
	return out, nil
}
