package postgres

import (
	"testing"
	"testing/fstest"
)

func TestLoadMigrations(t *testing.T) {
	if len(migrations) == 0 || migrations[0].version != 1 {
		t.Fatalf("embedded migrations: %+v", migrations)
	}
	for _, tc := range []struct {
		name  string
		files []string
		ok    bool
	}{
		{"in order", []string{"0001_a.sql", "0002_b.sql"}, true},
		{"gap", []string{"0001_a.sql", "0003_c.sql"}, false},
		{"duplicate", []string{"0001_a.sql", "1_b.sql"}, false},
		{"no name", []string{"0001.sql"}, false},
		{"not a number", []string{"abc_x.sql"}, false},
	} {
		fsys := fstest.MapFS{}
		for _, f := range tc.files {
			fsys["migrations/"+f] = &fstest.MapFile{Data: []byte("SELECT 1;")}
		}
		_, err := loadMigrations(fsys)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}
}
