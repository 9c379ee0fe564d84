package values

import (
	"container/list"
	"strings"
	"sync"
	"sync/atomic"
	"text/template"
)

// DefaultCacheSize is the number of parsed templates kept by a [Cache] created with a size that
// is not positive.
const DefaultCacheSize = 4096

// templateName is the name every template is parsed under, so that error texts read
// "template: tmpl:…".
const templateName = "tmpl"

// Cache keeps parsed templates so that a text evaluated many times is parsed once. It is safe
// for concurrent use and holds at most its size in templates, evicting the least recently used
// one. Parse errors are cached too. One Cache can be shared by any number of [Values], whatever
// their [Options].
type Cache struct {
	entries map[cacheKey]*list.Element // values are *cacheEntry
	funcs   [2]template.FuncMap        // parse-time function maps, indexed by envIndex
	bases   [2]*template.Template      // hold funcs, for templates that share them; see parse
	mu      sync.Mutex                 // guards entries and order
	order   *list.List                 // most recently used first
	size    int
	hits    atomic.Uint64
	misses  atomic.Uint64
}

// CacheStats counts the lookups of a [Cache].
type CacheStats struct {
	// Hits counts the evaluations that found their template already parsed.
	Hits uint64
	// Misses counts the evaluations that parsed their template.
	Misses uint64
}

// NewCache returns an empty Cache that keeps at most size parsed templates. A size that is not
// positive means [DefaultCacheSize].
func NewCache(size int) *Cache {
	if size <= 0 {
		size = DefaultCacheSize
	}

	c := &Cache{
		entries: make(map[cacheKey]*list.Element),
		funcs:   buildFuncMaps(),
		order:   list.New(),
		size:    size,
	}
	for i, fm := range c.funcs {
		c.bases[i] = template.New(templateName).Funcs(fm)
	}

	return c
}

// Len returns the number of templates currently held by the cache.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()

	return c.order.Len()
}

// Stats returns the lookup counters of the cache.
func (c *Cache) Stats() CacheStats {
	return CacheStats{Hits: c.hits.Load(), Misses: c.misses.Load()}
}

// get returns the entry of text, parsing it on a miss. Concurrent misses on the same text may
// parse it twice; only one result is kept.
func (c *Cache) get(text string, allowEnv bool) *cacheEntry {
	key := cacheKey{text: text, allowEnv: allowEnv}

	c.mu.Lock()
	if el, ok := c.entries[key]; ok {
		c.order.MoveToFront(el)
		c.mu.Unlock()
		c.hits.Add(1)

		return el.Value.(*cacheEntry) //nolint:forcetypeassert // the list only holds entries
	}
	c.mu.Unlock()

	c.misses.Add(1)
	entry := c.parse(key)

	c.mu.Lock()
	defer c.mu.Unlock()

	if el, ok := c.entries[key]; ok {
		c.order.MoveToFront(el)

		return el.Value.(*cacheEntry) //nolint:forcetypeassert // the list only holds entries
	}

	c.entries[key] = c.order.PushFront(entry)
	for c.order.Len() > c.size {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.entries, oldest.Value.(*cacheEntry).key) //nolint:forcetypeassert // the list only holds entries
	}

	return entry
}

// parse builds the entry of key.
func (c *Cache) parse(key cacheKey) *cacheEntry {
	entry := &cacheEntry{
		key: key,
		// Only a text that names one of the functions needing the Values can call them: a
		// template can only reach a function through its identifier.
		bound: strings.Contains(key.text, "eval") || strings.Contains(key.text, "field"),
	}
	if sharesFuncs(key.text) {
		// A template made with New shares its base's function maps instead
		// of copying the hundreds of functions: most of the cost of a parse.
		// All of them have one name, so the base's set of associated
		// templates keeps only the latest; each executes its own tree.
		entry.tmpl, entry.err = c.bases[envIndex(key.allowEnv)].New(templateName).Parse(key.text)
	} else {
		entry.tmpl, entry.err = template.New(templateName).Funcs(c.funcs[envIndex(key.allowEnv)]).Parse(key.text)
	}

	return entry
}

// sharesFuncs reports whether text may be parsed as an associate of a base
// template: only when it cannot define or call named templates, which would
// then be shared by every text parsed that way.
func sharesFuncs(text string) bool {
	return !strings.Contains(text, "define") && !strings.Contains(text, "block") &&
		!strings.Contains(text, "template")
}

// cacheKey identifies a parsed template: the function maps differ with [Options.AllowEnv].
type cacheKey struct {
	text     string
	allowEnv bool
}

// cacheEntry is one parsed template.
type cacheEntry struct {
	err   error
	key   cacheKey
	pool  sync.Pool // of *boundTemplate, clones of tmpl whose functions reach a Values
	tmpl  *template.Template
	bound bool // the text may call eval, evalCache or field
}

// acquire returns a clone of the template whose Values-bound functions go through the returned
// binder. The clone must be given back with release once the execution is over. Clones are
// reused, so that binding a template to a Values does not re-parse it nor, usually, copy it.
func (e *cacheEntry) acquire() *boundTemplate {
	if bt, ok := e.pool.Get().(*boundTemplate); ok {
		return bt
	}

	bt := &boundTemplate{b: &binder{}}
	// Clone copies the function maps but shares the parse trees, which execution never
	// modifies. Clone cannot fail once the template is parsed.
	bt.tmpl = template.Must(e.tmpl.Clone()).Funcs(template.FuncMap{
		"eval":      bt.b.eval,
		"evalCache": bt.b.evalCache,
		"field":     bt.b.field,
	})

	return bt
}

// release gives back a clone obtained from acquire.
func (e *cacheEntry) release(bt *boundTemplate) {
	*bt.b = binder{}
	e.pool.Put(bt)
}

// boundTemplate is a clone of a cached template whose eval, evalCache and field functions call
// the binder.
type boundTemplate struct {
	b    *binder
	tmpl *template.Template
}

// envIndex is the index of the function map matching an [Options.AllowEnv] value.
func envIndex(allowEnv bool) int {
	if allowEnv {
		return 1
	}

	return 0
}

// Check parses text as a template without running it, reporting syntax
// errors and unknown functions as Render would. A text without "{{" is
// always fine.
func (c *Cache) Check(text string) error {
	if !strings.Contains(text, "{{") {
		return nil
	}
	if e := c.get(text, false); e.err != nil {
		return templatingError(e.err)
	}
	return nil
}
