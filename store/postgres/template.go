package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/utask/utask/store"
	"github.com/utask/utask/store/internal/rowcodec"
)

// TemplateVersionPut records a template document and returns the id of that
// exact version (same name, same bytes), creating it if it is new. A known
// version is found without writing.
func (s *Store) TemplateVersionPut(ctx context.Context, name string, document []byte) (int64, error) {
	hash := rowcodec.TemplateHash(document)

	var id int64
	err := s.pool.QueryRow(ctx,
		`SELECT id FROM template_version WHERE name = $1 AND hash = $2`, name, hash).Scan(&id)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("put template version %s: %w", name, err)
	}

	// Another instance may record it at the same time: the insert then waits
	// for that one, and the no-op update makes RETURNING give its id.
	err = s.pool.QueryRow(ctx, `
		INSERT INTO template_version (name, hash, document) VALUES ($1, $2, $3)
		ON CONFLICT (name, hash) DO UPDATE SET name = excluded.name
		RETURNING id`, name, hash, document).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("put template version %s: %w", name, err)
	}
	return id, nil
}

// TemplateVersionGet returns the document of a template version.
func (s *Store) TemplateVersionGet(ctx context.Context, id int64) ([]byte, error) {
	return templateVersionGet(ctx, s.pool, id)
}

// TemplateVersionGet returns the document of a template version, read on
// this transaction's connection.
func (t *Tx) TemplateVersionGet(ctx context.Context, id int64) ([]byte, error) {
	return templateVersionGet(ctx, t.p, id)
}

func templateVersionGet(ctx context.Context, q querier, id int64) ([]byte, error) {
	var document []byte
	err := q.QueryRow(ctx,
		`SELECT document FROM template_version WHERE id = $1`, id).Scan(&document)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("get template version %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get template version %d: %w", id, err)
	}
	return document, nil
}

// TemplatesInUse returns every template name that a task uses, with the id
// of the newest version recorded under that name.
func (s *Store) TemplatesInUse(ctx context.Context) (map[string]int64, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT v.name, MAX(v.id) FROM template_version v
		WHERE EXISTS (SELECT 1 FROM task t WHERE t.template_name = v.name)
		GROUP BY v.name`)
	if err != nil {
		return nil, fmt.Errorf("list templates in use: %w", err)
	}
	defer rows.Close()
	out, err := rowcodec.TemplatesInUse(rows)
	if err != nil {
		return nil, fmt.Errorf("list templates in use: %w", err)
	}
	return out, nil
}
