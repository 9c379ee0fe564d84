package api

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/utask/utask/auth"
	"github.com/utask/utask/service"
)

// listTaskAudit serves GET /task/{id}/audit: the audit trail of a task,
// oldest entry first, paged with page_size and last.
func (s *server) listTaskAudit(w http.ResponseWriter, r *http.Request, id auth.Identity) error {
	taskID := r.PathValue("id")
	setActionMetadata(r, "task_id", taskID)

	q := newQuery(r, "listTaskAuditIn")

	var (
		req service.ListAuditRequest
		err error
	)

	if req.Last, err = q.single("last", "Last"); err != nil {
		return err
	}

	if req.PageSize, err = q.unsigned("page_size", "PageSize"); err != nil {
		return err
	}

	page, err := s.cfg.Service.ListTaskAudit(r.Context(), id, taskID, req)
	if err != nil {
		return err
	}

	w.Header().Set("X-Paging-PageSize", strconv.Itoa(page.PageSize))

	if n := len(page.Entries); n > 0 && n == page.PageSize {
		w.Header().Set("Link", nextLink("/task/"+url.PathEscape(taskID)+"/audit", url.Values{},
			page.Entries[n-1].ID, page.PageSize))
	}

	s.writeBody(w, r, http.StatusOK, page.Entries)

	return nil
}
