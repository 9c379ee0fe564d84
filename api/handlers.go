package api

import (
	"github.com/utask/utask/template/schema"
	"net/http"
	"net/url"
	"strconv"

	"github.com/utask/utask/auth"
	"github.com/utask/utask/service"
)

// createTask serves POST /task.
func (s *server) createTask(w http.ResponseWriter, r *http.Request, id auth.Identity) error {
	var req service.CreateTaskRequest
	if err := s.decodeBody(w, r, &req); err != nil {
		return err
	}

	t, err := s.cfg.Service.CreateTask(r.Context(), id, req)
	if err != nil {
		return err
	}

	setActionMetadata(r, "task_id", t.ID)
	s.writeBody(w, r, http.StatusCreated, t)

	return nil
}

// listTasks serves GET /task.
func (s *server) listTasks(w http.ResponseWriter, r *http.Request, id auth.Identity) error {
	const in = "listTasksIn"

	q := newQuery(r, in)
	req := service.ListTasksRequest{Tags: q.list("tag")}

	var err error

	for _, p := range []struct {
		key, field string
		dst        *string
	}{
		{"type", "Type", &req.Type},
		{"state", "State", &req.State},
		{"template", "Template", &req.Template},
		{"batch", "Batch", &req.Batch},
		{"last", "Last", &req.Last},
	} {
		if *p.dst, err = q.single(p.key, p.field); err != nil {
			return err
		}
	}

	if req.Before, err = q.timestamp("before", "Before"); err != nil {
		return err
	}

	if req.After, err = q.timestamp("after", "After"); err != nil {
		return err
	}

	if req.PageSize, err = q.unsigned("page_size", "PageSize"); err != nil {
		return err
	}

	page, err := s.cfg.Service.ListTasks(r.Context(), id, req)
	if err != nil {
		return err
	}

	w.Header().Set("X-Paging-PageSize", strconv.Itoa(page.PageSize))

	if n := len(page.Tasks); n > 0 && n == page.PageSize {
		kept := url.Values{}
		for _, k := range []string{"type", "state", "template", "batch", "tag", "before", "after"} {
			if vs := q.list(k); len(vs) > 0 {
				kept[k] = vs
			}
		}

		if req.Type == "" {
			kept.Set("type", service.ListOwn)
		}

		w.Header().Set("Link", nextLink("/task", kept, page.Tasks[n-1].ID, page.PageSize))
	}

	s.writeBody(w, r, http.StatusOK, page.Tasks)

	return nil
}

// getTask serves GET /task/{id}.
func (s *server) getTask(w http.ResponseWriter, r *http.Request, id auth.Identity) error {
	setActionMetadata(r, "task_id", r.PathValue("id"))

	t, err := s.cfg.Service.GetTask(r.Context(), id, r.PathValue("id"))
	if err != nil {
		return err
	}

	s.writeBody(w, r, http.StatusOK, t)

	return nil
}

// createResolution serves POST /resolution.
func (s *server) createResolution(w http.ResponseWriter, r *http.Request, id auth.Identity) error {
	var req service.CreateResolutionRequest
	if err := s.decodeBody(w, r, &req); err != nil {
		return err
	}

	setActionMetadata(r, "task_id", req.TaskID)

	res, err := s.cfg.Service.CreateResolution(r.Context(), id, req)
	if err != nil {
		return err
	}

	setActionMetadata(r, "resolution_id", res.ID)
	s.writeBody(w, r, http.StatusCreated, res)

	return nil
}

// getResolution serves GET /resolution/{id}.
func (s *server) getResolution(w http.ResponseWriter, r *http.Request, id auth.Identity) error {
	setActionMetadata(r, "resolution_id", r.PathValue("id"))

	res, err := s.cfg.Service.GetResolution(r.Context(), id, r.PathValue("id"))
	if err != nil {
		return err
	}

	s.writeBody(w, r, http.StatusOK, res)

	return nil
}

// runResolution serves POST /resolution/{id}/run.
func (s *server) runResolution(w http.ResponseWriter, r *http.Request, id auth.Identity) error {
	setActionMetadata(r, "resolution_id", r.PathValue("id"))

	if err := s.cfg.Service.RunResolution(r.Context(), id, r.PathValue("id")); err != nil {
		return err
	}

	w.WriteHeader(http.StatusNoContent)

	return nil
}

// listTemplates serves GET /template.
func (s *server) listTemplates(w http.ResponseWriter, r *http.Request, id auth.Identity) error {
	q := newQuery(r, "listTemplatesIn")

	var (
		req service.ListTemplatesRequest
		err error
	)

	if req.Last, err = q.single("last", "Last"); err != nil {
		return err
	}

	if req.PageSize, err = q.unsigned("page_size", "PageSize"); err != nil {
		return err
	}

	page, err := s.cfg.Service.ListTemplates(r.Context(), id, req)
	if err != nil {
		return err
	}

	w.Header().Set("X-Paging-PageSize", strconv.Itoa(page.PageSize))

	if n := len(page.Templates); n > 0 && n == page.PageSize {
		w.Header().Set("Link", nextLink("/template", url.Values{}, page.Templates[n-1].Name, page.PageSize))
	}

	s.writeBody(w, r, http.StatusOK, page.Templates)

	return nil
}

// getTemplate serves GET /template/{name}.
func (s *server) getTemplate(w http.ResponseWriter, r *http.Request, id auth.Identity) error {
	setActionMetadata(r, "template_name", r.PathValue("name"))

	t, err := s.cfg.Service.GetTemplate(r.Context(), id, r.PathValue("name"))
	if err != nil {
		return err
	}

	s.writeBody(w, r, http.StatusOK, t)

	return nil
}

// meta serves GET /meta.
func (s *server) meta(w http.ResponseWriter, r *http.Request, id auth.Identity) error {
	s.writeBody(w, r, http.StatusOK, s.cfg.Service.Meta(r.Context(), id))

	return nil
}

// root serves GET /: a redirection to /meta.
func (s *server) root(w http.ResponseWriter, r *http.Request, _ auth.Identity) error {
	http.Redirect(w, r, "/meta", http.StatusMovedPermanently)

	return nil
}

// templateSchema serves the JSON Schema of the template format, for
// editors.
func (s *server) templateSchema(w http.ResponseWriter, _ *http.Request, _ auth.Identity) error {
	w.Header().Set("Content-Type", "application/schema+json")
	_, _ = w.Write(schema.Template)

	return nil
}

// ping serves GET /unsecured/mon/ping: "pong" when the database answers, a
// bare 500 otherwise.
// metricsPath is the path of the Prometheus metrics, served without the
// CORS headers, the audit line and the admission limit of the other routes.
const metricsPath = "/metrics"

func (s *server) metrics(w http.ResponseWriter, r *http.Request, _ auth.Identity) error {
	if s.cfg.Metrics == nil {
		http.NotFound(w, r)

		return nil
	}

	s.cfg.Metrics.ServeHTTP(w, r)

	return nil
}

func (s *server) ping(w http.ResponseWriter, r *http.Request, _ auth.Identity) error {
	if err := s.cfg.Ping(r.Context()); err != nil {
		s.cfg.Logger.ErrorContext(r.Context(), "ping database", "err", err)
		w.WriteHeader(http.StatusInternalServerError)

		return nil
	}

	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("pong"))

	return nil
}

// wontfixTask serves POST /task/{id}/wontfix.
func (s *server) wontfixTask(w http.ResponseWriter, r *http.Request, id auth.Identity) error {
	setActionMetadata(r, "task_id", r.PathValue("id"))

	if err := s.cfg.Service.WontfixTask(r.Context(), id, r.PathValue("id")); err != nil {
		return err
	}

	w.WriteHeader(http.StatusNoContent)

	return nil
}

// pauseResolution serves POST /resolution/{id}/pause; the query parameter
// force (a boolean) lets an administrator pause a resolution in any state.
func (s *server) pauseResolution(w http.ResponseWriter, r *http.Request, id auth.Identity) error {
	setActionMetadata(r, "resolution_id", r.PathValue("id"))

	force, err := newQuery(r, "pauseResolutionIn").boolean("force", "Force")
	if err != nil {
		return err
	}

	if force {
		setActionMetadata(r, "force", "true")
	}

	if err := s.cfg.Service.PauseResolution(r.Context(), id, r.PathValue("id"), force); err != nil {
		return err
	}

	w.WriteHeader(http.StatusNoContent)

	return nil
}

// cancelResolution serves POST /resolution/{id}/cancel.
func (s *server) cancelResolution(w http.ResponseWriter, r *http.Request, id auth.Identity) error {
	setActionMetadata(r, "resolution_id", r.PathValue("id"))

	if err := s.cfg.Service.CancelResolution(r.Context(), id, r.PathValue("id")); err != nil {
		return err
	}

	w.WriteHeader(http.StatusNoContent)

	return nil
}

// extendResolution serves POST /resolution/{id}/extend.
func (s *server) extendResolution(w http.ResponseWriter, r *http.Request, id auth.Identity) error {
	setActionMetadata(r, "resolution_id", r.PathValue("id"))

	if err := s.cfg.Service.ExtendResolution(r.Context(), id, r.PathValue("id")); err != nil {
		return err
	}

	w.WriteHeader(http.StatusNoContent)

	return nil
}

// setStepState serves PUT /resolution/{id}/step/{stepName}/state.
func (s *server) setStepState(w http.ResponseWriter, r *http.Request, id auth.Identity) error {
	setActionMetadata(r, "resolution_id", r.PathValue("id"))
	setActionMetadata(r, "step_name", r.PathValue("stepName"))

	var req service.StepStateRequest
	if err := s.decodeBody(w, r, &req); err != nil {
		return err
	}
	setActionMetadata(r, "new_state", req.State)

	if err := s.cfg.Service.SetStepState(r.Context(), id, r.PathValue("id"), r.PathValue("stepName"), req); err != nil {
		return err
	}

	w.WriteHeader(http.StatusNoContent)

	return nil
}

// getResolutionStep serves GET /resolution/{id}/step/{stepName}.
func (s *server) getResolutionStep(w http.ResponseWriter, r *http.Request, id auth.Identity) error {
	setActionMetadata(r, "resolution_id", r.PathValue("id"))
	setActionMetadata(r, "step_name", r.PathValue("stepName"))

	st, err := s.cfg.Service.GetResolutionStep(r.Context(), id, r.PathValue("id"), r.PathValue("stepName"))
	if err != nil {
		return err
	}

	s.writeBody(w, r, http.StatusOK, st)

	return nil
}

// listFunctions serves GET /function.
func (s *server) listFunctions(w http.ResponseWriter, r *http.Request, id auth.Identity) error {
	q := newQuery(r, "listFunctionsIn")

	var (
		req service.ListFunctionsRequest
		err error
	)

	if req.Last, err = q.single("last", "Last"); err != nil {
		return err
	}

	if req.PageSize, err = q.unsigned("page_size", "PageSize"); err != nil {
		return err
	}

	page, err := s.cfg.Service.ListFunctions(r.Context(), id, req)
	if err != nil {
		return err
	}

	w.Header().Set("X-Paging-PageSize", strconv.Itoa(page.PageSize))

	if n := len(page.Functions); n > 0 && n == page.PageSize {
		w.Header().Set("Link", nextLink("/function", url.Values{}, page.Functions[n-1].Name, page.PageSize))
	}

	s.writeBody(w, r, http.StatusOK, page.Functions)

	return nil
}

// getFunction serves GET /function/{name}.
func (s *server) getFunction(w http.ResponseWriter, r *http.Request, id auth.Identity) error {
	setActionMetadata(r, "function_name", r.PathValue("name"))

	f, err := s.cfg.Service.GetFunction(r.Context(), id, r.PathValue("name"))
	if err != nil {
		return err
	}

	s.writeBody(w, r, http.StatusOK, f)

	return nil
}

// openAPISpec serves GET /unsecured/spec.json: the OpenAPI document of the
// route table.
func (s *server) openAPISpec(w http.ResponseWriter, r *http.Request, _ auth.Identity) error {
	s.writeBody(w, r, http.StatusOK, s.spec)

	return nil
}

// deleteTask serves DELETE /task/{id}.
func (s *server) deleteTask(w http.ResponseWriter, r *http.Request, id auth.Identity) error {
	setActionMetadata(r, "task_id", r.PathValue("id"))

	if err := s.cfg.Service.DeleteTask(r.Context(), id, r.PathValue("id")); err != nil {
		return err
	}

	w.WriteHeader(http.StatusNoContent)

	return nil
}

// createComment serves POST /task/{id}/comment.
func (s *server) createComment(w http.ResponseWriter, r *http.Request, id auth.Identity) error {
	setActionMetadata(r, "task_id", r.PathValue("id"))

	var req service.CommentRequest
	if err := s.decodeBody(w, r, &req); err != nil {
		return err
	}

	c, err := s.cfg.Service.CreateComment(r.Context(), id, r.PathValue("id"), req)
	if err != nil {
		return err
	}

	setActionMetadata(r, "comment_id", c.ID)
	s.writeBody(w, r, http.StatusCreated, c)

	return nil
}

// listComments serves GET /task/{id}/comment.
func (s *server) listComments(w http.ResponseWriter, r *http.Request, id auth.Identity) error {
	setActionMetadata(r, "task_id", r.PathValue("id"))

	cs, err := s.cfg.Service.ListComments(r.Context(), id, r.PathValue("id"))
	if err != nil {
		return err
	}

	s.writeBody(w, r, http.StatusOK, cs)

	return nil
}

// getComment serves GET /task/{id}/comment/{commentid}.
func (s *server) getComment(w http.ResponseWriter, r *http.Request, id auth.Identity) error {
	setActionMetadata(r, "task_id", r.PathValue("id"))
	setActionMetadata(r, "comment_id", r.PathValue("commentid"))

	c, err := s.cfg.Service.GetComment(r.Context(), id, r.PathValue("id"), r.PathValue("commentid"))
	if err != nil {
		return err
	}

	s.writeBody(w, r, http.StatusOK, c)

	return nil
}

// updateComment serves PUT /task/{id}/comment/{commentid}.
func (s *server) updateComment(w http.ResponseWriter, r *http.Request, id auth.Identity) error {
	setActionMetadata(r, "task_id", r.PathValue("id"))
	setActionMetadata(r, "comment_id", r.PathValue("commentid"))

	var req service.CommentRequest
	if err := s.decodeBody(w, r, &req); err != nil {
		return err
	}

	c, err := s.cfg.Service.UpdateComment(r.Context(), id, r.PathValue("id"), r.PathValue("commentid"), req)
	if err != nil {
		return err
	}

	s.writeBody(w, r, http.StatusOK, c)

	return nil
}

// deleteComment serves DELETE /task/{id}/comment/{commentid}.
func (s *server) deleteComment(w http.ResponseWriter, r *http.Request, id auth.Identity) error {
	setActionMetadata(r, "task_id", r.PathValue("id"))
	setActionMetadata(r, "comment_id", r.PathValue("commentid"))

	if err := s.cfg.Service.DeleteComment(r.Context(), id, r.PathValue("id"), r.PathValue("commentid")); err != nil {
		return err
	}

	w.WriteHeader(http.StatusNoContent)

	return nil
}

// stats serves GET /unsecured/stats: the number of tasks in each state,
// restricted by the repeatable tag query parameter.
func (s *server) stats(w http.ResponseWriter, r *http.Request, _ auth.Identity) error {
	st, err := s.cfg.Service.Stats(r.Context(), newQuery(r, "statsIn").list("tag"))
	if err != nil {
		return err
	}

	s.writeBody(w, r, http.StatusOK, st)

	return nil
}
