package api

import (
	"errors"
	"net/http"

	"github.com/utask/utask/auth"
	"github.com/utask/utask/service"
	"github.com/utask/utask/template"
)

// writeEditError writes the error of an edit: 409 when the engine still
// runs a cycle of the resolution (µTask's NOWAIT lock answers 500 there),
// else as every error.
func (s *server) writeEditError(w http.ResponseWriter, r *http.Request, err error) error {
	if errors.Is(err, service.ErrResolutionBusy) {
		s.writeMessage(w, r, http.StatusConflict, err.Error())

		return nil
	}

	return err
}

// editTask serves PUT /task/{id}.
func (s *server) editTask(w http.ResponseWriter, r *http.Request, id auth.Identity) error {
	setActionMetadata(r, "task_id", r.PathValue("id"))

	var req service.EditTaskRequest
	if err := s.decodeBody(w, r, &req); err != nil {
		return err
	}

	t, err := s.cfg.Service.EditTask(r.Context(), id, r.PathValue("id"), req)
	if err != nil {
		return s.writeEditError(w, r, err)
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
		return s.writeEditError(w, r, err)
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
		return s.writeEditError(w, r, err)
	}

	w.WriteHeader(http.StatusNoContent)

	return nil
}
