package report

import "testing"

func TestLabReportTables(t *testing.T) {
	tables := LabReport()
	if len(tables) != 14 {
		t.Fatalf("LabReport has %d tables, want 14", len(tables))
	}
	for i, tab := range tables {
		if tab.Number != i+1 || tab.Figure != i+1 {
			t.Errorf("table %d: Number %d, Figure %d; want both %d", i, tab.Number, tab.Figure, i+1)
		}
		wantSplit := Train
		if tab.Number%2 == 0 {
			wantSplit = Validation
		}
		if tab.Split != wantSplit {
			t.Errorf("Table %d split %q, want %q (odd tables are train loss in the report)", tab.Number, tab.Split, wantSplit)
		}
	}
	// Spot values read off the report by eye.
	spots := []struct {
		table int
		label string
		want  float64
	}{
		{1, "Without batch norm", 0.3706},
		{4, "With batch norm", 0.2582},
		{7, "Without batch norm", 0.1753}, // Tables 7 and 8 are batch 512's train and val loss
		{8, "With batch norm", 0.1836},
		{12, "1024", 0.1476},
		{13, "Without batch norm", 0.3223},
		{14, "With batch norm", 0.3130},
	}
	for _, s := range spots {
		found := false
		for _, r := range tables[s.table-1].Rows {
			if r.Label == s.label {
				found = true
				if r.Loss != s.want {
					t.Errorf("Table %d %q = %v, want %v", s.table, s.label, r.Loss, s.want)
				}
			}
		}
		if !found {
			t.Errorf("Table %d has no row %q", s.table, s.label)
		}
	}
}

// The batch-size comparison (Tables 11–12) repeats the no-batch-norm numbers of Tables 1–10; a typo
// in either copy would show here.
func TestLabReportComparisonMatchesPerBatchTables(t *testing.T) {
	tables := LabReport()
	for _, cmpTable := range tables[10:12] {
		for _, row := range cmpTable.Rows {
			n := 0
			for _, tab := range tables[:10] {
				for _, r := range tab.Rows {
					if tab.Split == cmpTable.Split && r.Variant == row.Variant {
						n++
						if r.Loss != row.Loss {
							t.Errorf("Table %d batch %s: %v, but Table %d has %v", cmpTable.Number, row.Label, row.Loss, tab.Number, r.Loss)
						}
					}
				}
			}
			if n != 1 {
				t.Errorf("Table %d batch %s appears in %d of Tables 1–10, want 1", cmpTable.Number, row.Label, n)
			}
		}
	}
}

func TestReferenceLoss(t *testing.T) {
	tests := []struct {
		v     Variant
		split Split
		want  float64
		ok    bool
	}{
		{Variant{"xavier", false, 64}, Train, 0.3706, true},
		{Variant{"xavier", true, 1024}, Validation, 0.1498, true},
		{Variant{"uniform", true, 128}, Train, 0.3047, true},
		{Variant{"uniform", true, 64}, Train, 0, false},
		{Variant{"he_normal", false, 128}, Validation, 0, false},
	}
	for _, tt := range tests {
		got, ok := ReferenceLoss(tt.v, tt.split)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("ReferenceLoss(%+v, %s) = %v, %v; want %v, %v", tt.v, tt.split, got, ok, tt.want, tt.ok)
		}
	}
}
