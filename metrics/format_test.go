package metrics

import "testing"

func TestFormat(t *testing.T) {
	got := Format(map[string]float64{"zeta": 1, "val_accuracy": 0.5, "val_loss": 0.25, "alpha": 2})
	if want := "val_loss 0.2500  val_accuracy 0.5000  alpha 2.0000  zeta 1.0000"; got != want {
		t.Fatalf("Format = %q, want %q", got, want)
	}
}
