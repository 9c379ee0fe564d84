package api

import (
	"net/http"

	"github.com/utask/utask/auth"
	"github.com/utask/utask/service"
)

// createBatch serves POST /batch.
func (s *server) createBatch(w http.ResponseWriter, r *http.Request, id auth.Identity) error {
	var req service.CreateBatchRequest
	if err := s.decodeBody(w, r, &req); err != nil {
		return err
	}

	b, err := s.cfg.Service.CreateBatch(r.Context(), id, req)
	if err != nil {
		return err
	}

	setActionMetadata(r, "batch_id", b.ID)
	s.writeBody(w, r, http.StatusCreated, b)

	return nil
}
