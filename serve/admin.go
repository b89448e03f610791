package serve

import (
	"net/http"
	"time"

	"github.com/moxing/moxing/ledger"
)

// The admin routes manage keys and read usage over HTTP, for a key made
// with Admin (moxing keys create --admin); they exist only with Auth.
//
//	GET    /v1/admin/keys          the keys (never their secrets)
//	POST   /v1/admin/keys          {"name", "quota_tokens", "rate", "models", "expires_in" (seconds), "admin"} → the key, shown once
//	DELETE /v1/admin/keys/{id}     revoke a key (by id or name)
//	GET    /v1/admin/usage         ?by=day|key|model|route&key=&since=&until= (days, 2006-01-02) → totals

// admin checks that the request's key may manage keys.
func (s *Server) admin(info *requestInfo) error {
	if s.acct == nil || !s.acct.auth {
		return &apiError{Status: http.StatusNotFound, Message: "the admin routes need moxing serve --auth", Type: "not_found_error"}
	}
	if info.key == nil || !info.key.Admin {
		return &apiError{Status: http.StatusForbidden, Message: "this API key is not an admin key", Type: "permission_error"}
	}
	return nil
}

// newKeyRequest is POST /v1/admin/keys.
type newKeyRequest struct {
	Name        string   `json:"name"`
	QuotaTokens int64    `json:"quota_tokens"`
	Rate        float64  `json:"rate"`
	Models      []string `json:"models"`
	ExpiresIn   int64    `json:"expires_in"` // seconds; 0: never
	Admin       bool     `json:"admin"`
}

func (s *Server) adminKeys(w http.ResponseWriter, r *http.Request, info *requestInfo) error {
	if err := s.admin(info); err != nil {
		return err
	}
	switch r.Method {
	case http.MethodGet:
		keys, err := s.acct.store.Keys(r.Context())
		if err != nil {
			return err
		}
		return writeJSON(w, map[string]any{"object": "list", "data": keys})
	case http.MethodPost:
		var req newKeyRequest
		if err := decode(r, s.opts.MaxBodyBytes, &req); err != nil {
			return err
		}
		if req.Name == "" || req.QuotaTokens < 0 || req.Rate < 0 || !finite(req.Rate) || req.ExpiresIn < 0 {
			return invalid("", "a key needs a name, and no negative quota_tokens, rate or expires_in")
		}
		n := ledger.NewKey{Name: req.Name, QuotaTokens: req.QuotaTokens, Rate: req.Rate, Models: req.Models, Admin: req.Admin}
		if req.ExpiresIn > 0 {
			n.Expires = time.Now().Add(time.Duration(req.ExpiresIn) * time.Second)
		}
		k, secret, err := s.acct.store.CreateKey(r.Context(), n)
		if err != nil {
			return err
		}
		return writeJSON(w, map[string]any{"key": secret, "record": k})
	}
	w.Header().Set("Allow", "GET, POST")
	return &apiError{Status: http.StatusMethodNotAllowed, Message: r.Method + " /v1/admin/keys: use GET or POST", Type: "invalid_request_error"}
}

func (s *Server) adminRevoke(w http.ResponseWriter, r *http.Request, info *requestInfo) error {
	if err := s.admin(info); err != nil {
		return err
	}
	if err := s.acct.store.RevokeKey(r.Context(), r.PathValue("id")); err != nil {
		return &apiError{Status: http.StatusNotFound, Message: err.Error(), Type: "not_found_error"}
	}
	return writeJSON(w, map[string]any{"id": r.PathValue("id"), "revoked": true})
}

func (s *Server) adminUsage(w http.ResponseWriter, r *http.Request, info *requestInfo) error {
	if err := s.admin(info); err != nil {
		return err
	}
	q := r.URL.Query()
	f := ledger.Filter{KeyID: q.Get("key")}
	for param, to := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		if v := q.Get(param); v != "" {
			t, err := time.Parse(time.DateOnly, v)
			if err != nil {
				return invalid(param, "%s %q: want a day, 2006-01-02", param, v)
			}
			*to = t
		}
	}
	by := q.Get("by")
	switch by {
	case "":
		by = "day"
	case "day", "key", "model", "route":
	default:
		return invalid("by", "by %q: want day, key, model or route", by)
	}
	totals, err := s.acct.store.Usage(r.Context(), f, by)
	if err != nil {
		return err
	}
	return writeJSON(w, map[string]any{"object": "list", "by": by, "data": totals})
}
