package api

import (
	"net/http"

	"github.com/utask/utask/auth"
)

// handleCallback serves POST /unsecured/callback/{id}: anyone holding the
// token may call it, once. The body must be a JSON (or YAML) object, or
// absent.
func (s *server) handleCallback(w http.ResponseWriter, r *http.Request, _ auth.Identity) error {
	var body map[string]any
	if err := s.decodeBody(w, r, &body); err != nil {
		return err
	}

	token, err := newQuery(r, "handleCallbackIn").single("t", "Token")
	if err != nil {
		return err
	}

	setActionMetadata(r, "callback_id", r.PathValue("id"))

	var payload any
	if body != nil {
		payload = body
	}

	msg, err := s.cfg.Service.HandleCallback(r.Context(), r.PathValue("id"), token, payload)
	if err != nil {
		return err
	}

	s.writeBody(w, r, http.StatusOK, msg)

	return nil
}
