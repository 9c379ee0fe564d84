package api

import (
	"net/http"

	"github.com/utask/utask/auth"
)

// reencryptData serves POST /key-rotate: every stored secret sealed again
// with the newest key; 200 with an empty body.
func (s *server) reencryptData(w http.ResponseWriter, r *http.Request, id auth.Identity) error {
	if err := s.cfg.Service.ReencryptData(r.Context(), id); err != nil {
		return err //nolint:wrapcheck // a service error, written by writeError
	}

	w.WriteHeader(http.StatusOK)

	return nil
}
