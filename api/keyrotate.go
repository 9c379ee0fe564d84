package api

import (
	"net/http"
	"time"

	"github.com/utask/utask/auth"
)

// reencryptData serves POST /key-rotate: every stored secret sealed again
// with the newest key; 200 with an empty body.
func (s *server) reencryptData(w http.ResponseWriter, r *http.Request, id auth.Identity) error {
	// A rotation takes as long as the database is large: the server's
	// write timeout must not cut its answer.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})

	if err := s.cfg.Service.ReencryptData(r.Context(), id); err != nil {
		return err //nolint:wrapcheck // a service error, written by writeError
	}

	w.WriteHeader(http.StatusOK)

	return nil
}
