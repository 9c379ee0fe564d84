package config

import (
	"slices"
	"strings"
	"sync"
)

// Item is one configuration item. Its Key is normalised (see NormaliseKey) when it enters a Store.
type Item struct {
	Key      string
	Value    string
	Priority int
}

// Store holds the configuration items after squashing (highest priority wins per key; several items
// may share a key and the highest priority). A Store is safe for concurrent use.
type Store struct {
	mu    sync.RWMutex
	items map[string][]Item // winning items per normalised key, in the order they were added
}

// NewStore returns a Store holding items, squashed.
func NewStore(items ...Item) *Store {
	s := &Store{items: make(map[string][]Item)}
	for _, it := range items {
		s.add(it)
	}

	return s
}

// NormaliseKey returns key the way a Store compares keys: lower-case, with "_" written "-", so
// CFG_UTASK_CFG's remainder UTASK_CFG and utask-cfg are the same key.
func NormaliseKey(key string) string {
	return strings.ReplaceAll(strings.ToLower(key), "_", "-")
}

// Get returns the value of key (the first of the winning items) and whether the key exists.
func (s *Store) Get(key string) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()

	winners := s.items[NormaliseKey(key)]
	if len(winners) == 0 {
		return "", false
	}

	return winners[0].Value, true
}

// GetAll returns every winning value of key (several encryption keys, for example), or nil.
func (s *Store) GetAll(key string) []string {
	s.mu.RLock()
	defer s.mu.RUnlock()

	winners := s.items[NormaliseKey(key)]
	if len(winners) == 0 {
		return nil
	}

	values := make([]string, len(winners))
	for i, it := range winners {
		values[i] = it.Value
	}

	return values
}

// Keys returns the normalised keys, sorted.
func (s *Store) Keys() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()

	keys := make([]string, 0, len(s.items))
	for k := range s.items {
		keys = append(keys, k)
	}

	slices.Sort(keys)

	return keys
}

// Set merges item into the store the way a provider's item is squashed: a priority higher than the
// key's current winners replaces them, an equal priority adds a value after them, and a lower one
// is ignored. A missing key is simply added, so generated defaults can be Set when Get finds
// nothing; to override an existing key, give a higher priority.
func (s *Store) Set(item Item) {
	s.mu.Lock()
	defer s.mu.Unlock()

	s.add(item)
}

// add squashes item into s.items; the caller holds the lock or owns s.
func (s *Store) add(item Item) {
	item.Key = NormaliseKey(item.Key)

	winners, ok := s.items[item.Key]

	switch {
	case !ok || len(winners) == 0 || item.Priority > winners[0].Priority:
		s.items[item.Key] = []Item{item}
	case item.Priority == winners[0].Priority:
		s.items[item.Key] = append(winners, item)
	}
}

// first returns the first winning item of a normalised key.
func (s *Store) first(key string) (Item, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()

	winners := s.items[key]
	if len(winners) == 0 {
		return Item{}, false
	}

	return winners[0], true
}
