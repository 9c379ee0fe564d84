package api

import (
	"net/http"

	"github.com/utask/utask/auth"
	"github.com/utask/utask/service"
	"github.com/utask/utask/template"
)

// editTask serves PUT /task/{id}.
func (s *server) editTask(w http.ResponseWriter, r *http.Request, id auth.Identity) error {
	setActionMetadata(r, "task_id", r.PathValue("id"))

	var req service.EditTaskRequest
	if err := s.decodeBody(w, r, &req); err != nil {
		return err
	}

	t, err := s.cfg.Service.EditTask(r.Context(), id, r.PathValue("id"), req)
	if err != nil {
		return err //nolint:wrapcheck // a service error, written by writeError
	}

	s.writeBody(w, r, http.StatusOK, t)

	return nil
}

// editResolution serves PUT /resolution/{id}.
func (s *server) editResolution(w http.ResponseWriter, r *http.Request, id auth.Identity) error {
	setActionMetadata(r, "resolution_id", r.PathValue("id"))

	var req service.EditResolutionRequest
	if err := s.decodeBody(w, r, &req); err != nil {
		return err
	}

	if err := s.cfg.Service.EditResolution(r.Context(), id, r.PathValue("id"), req); err != nil {
		return err //nolint:wrapcheck // a service error, written by writeError
	}

	w.WriteHeader(http.StatusNoContent)

	return nil
}

// editResolutionStep serves PUT /resolution/{id}/step/{stepName}.
func (s *server) editResolutionStep(w http.ResponseWriter, r *http.Request, id auth.Identity) error {
	setActionMetadata(r, "resolution_id", r.PathValue("id"))
	setActionMetadata(r, "step_name", r.PathValue("stepName"))

	var st template.Step
	if err := s.decodeBody(w, r, &st); err != nil {
		return err
	}

	err := s.cfg.Service.EditResolutionStep(r.Context(), id, r.PathValue("id"), r.PathValue("stepName"), st)
	if err != nil {
		return err //nolint:wrapcheck // a service error, written by writeError
	}

	w.WriteHeader(http.StatusNoContent)

	return nil
}
