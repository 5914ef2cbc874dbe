package spec

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Early stopping and ReduceLROnPlateau are written like schedules, "off", "on" (Keras' defaults) or
// their Keras arguments joined by ":":
//
//	patience=3:min_delta=0.001[:monitor=val_loss][:mode=auto][:baseline=0.3][:start_from_epoch=2][:restore_best_weights]
//	factor=0.5:patience=2[:min_delta=1e-4][:cooldown=1][:min_lr=1e-5][:monitor=val_loss][:mode=auto]

// EarlyStopping is the early_stopping axis' value: nil options are no early stopping.
type EarlyStopping struct{ Options *EarlyStoppingOptions }

// ReduceLR is the reduce_lr axis' value: nil options are no ReduceLROnPlateau.
type ReduceLR struct {
	Options *ReduceLROnPlateauOptions
}

// specArgs splits "a=1:b:c=x" into its arguments; off and on stand alone.
func specArgs(s string) (off bool, args [][2]string) {
	if s == "off" {
		return true, nil
	}
	if s == "on" {
		return false, nil
	}
	for part := range strings.SplitSeq(s, ":") {
		k, v, _ := strings.Cut(part, "=")
		args = append(args, [2]string{strings.TrimSpace(k), strings.TrimSpace(v)})
	}
	return false, args
}

func parseEarlyStopping(s string) (EarlyStopping, error) {
	off, args := specArgs(s)
	if off {
		return EarlyStopping{}, nil
	}
	o := EarlyStoppingOptions{}
	for _, kv := range args {
		var err error
		switch kv[0] {
		case "patience":
			o.Patience, err = strconv.Atoi(kv[1])
		case "min_delta":
			o.MinDelta, err = strconv.ParseFloat(kv[1], 64)
		case "monitor":
			o.Monitor = kv[1]
		case "mode":
			o.Mode = kv[1]
		case "baseline":
			var b float64
			b, err = strconv.ParseFloat(kv[1], 64)
			o.Baseline = &b
		case "start_from_epoch":
			o.StartFromEpoch, err = strconv.Atoi(kv[1])
		case "restore_best_weights":
			o.RestoreBestWeights = kv[1] == "" || kv[1] == "true"
		default:
			return EarlyStopping{}, fmt.Errorf("%s: unknown argument %q (want patience, min_delta, monitor, mode, baseline, start_from_epoch or restore_best_weights)", s, kv[0])
		}
		if err != nil {
			return EarlyStopping{}, fmt.Errorf("%s: %s=%q is not a number", s, kv[0], kv[1])
		}
	}
	if err := o.Validate(); err != nil {
		return EarlyStopping{}, fmt.Errorf("%s: %w", s, err)
	}
	return EarlyStopping{Options: &o}, nil
}

func formatEarlyStopping(e EarlyStopping) string {
	o := e.Options
	if o == nil {
		return "off"
	}
	parts := []string{"patience=" + strconv.Itoa(o.Patience)}
	if o.MinDelta != 0 {
		parts = append(parts, "min_delta="+formatFloat(o.MinDelta))
	}
	if o.Monitor != "" && o.Monitor != "val_loss" {
		parts = append(parts, "monitor="+o.Monitor)
	}
	if o.Mode != "" && o.Mode != "auto" {
		parts = append(parts, "mode="+o.Mode)
	}
	if o.Baseline != nil {
		parts = append(parts, "baseline="+formatFloat(*o.Baseline))
	}
	if o.StartFromEpoch != 0 {
		parts = append(parts, "start_from_epoch="+strconv.Itoa(o.StartFromEpoch))
	}
	if o.RestoreBestWeights {
		parts = append(parts, "restore_best_weights")
	}
	return strings.Join(parts, ":")
}

func parseReduceLR(s string) (ReduceLR, error) {
	off, args := specArgs(s)
	if off {
		return ReduceLR{}, nil
	}
	o := DefaultReduceLROnPlateauOptions()
	for _, kv := range args {
		var err error
		switch kv[0] {
		case "factor":
			o.Factor, err = strconv.ParseFloat(kv[1], 64)
		case "patience":
			o.Patience, err = strconv.Atoi(kv[1])
		case "min_delta":
			o.MinDelta, err = strconv.ParseFloat(kv[1], 64)
		case "cooldown":
			o.Cooldown, err = strconv.Atoi(kv[1])
		case "min_lr":
			o.MinLR, err = strconv.ParseFloat(kv[1], 64)
		case "monitor":
			o.Monitor = kv[1]
		case "mode":
			o.Mode = kv[1]
		default:
			return ReduceLR{}, fmt.Errorf("%s: unknown argument %q (want factor, patience, min_delta, cooldown, min_lr, monitor or mode)", s, kv[0])
		}
		if err != nil {
			return ReduceLR{}, fmt.Errorf("%s: %s=%q is not a number", s, kv[0], kv[1])
		}
	}
	if err := o.Validate(); err != nil {
		return ReduceLR{}, fmt.Errorf("%s: %w", s, err)
	}
	return ReduceLR{Options: &o}, nil
}

func formatReduceLR(r ReduceLR) string {
	o := r.Options
	if o == nil {
		return "off"
	}
	d := DefaultReduceLROnPlateauOptions()
	parts := []string{"factor=" + formatFloat(o.Factor), "patience=" + strconv.Itoa(o.Patience)}
	if o.MinDelta != d.MinDelta {
		parts = append(parts, "min_delta="+formatFloat(o.MinDelta))
	}
	if o.Cooldown != 0 {
		parts = append(parts, "cooldown="+strconv.Itoa(o.Cooldown))
	}
	if o.MinLR != 0 {
		parts = append(parts, "min_lr="+formatFloat(o.MinLR))
	}
	if o.Monitor != "" && o.Monitor != d.Monitor {
		parts = append(parts, "monitor="+o.Monitor)
	}
	if o.Mode != "" && o.Mode != d.Mode {
		parts = append(parts, "mode="+o.Mode)
	}
	return strings.Join(parts, ":")
}

// EarlyStoppingOptions are Keras 3's EarlyStopping arguments; the zero value is Keras' defaults.
type EarlyStoppingOptions struct {
	// Monitor is "val_loss" (the default, also when empty), "loss", "val_accuracy" or "accuracy".
	Monitor string
	// MinDelta is the smallest change that counts as an improvement; its sign is ignored, as Keras
	// takes abs(min_delta).
	MinDelta float64
	// Patience is the number of epochs without improvement after which training stops.
	Patience int
	// Mode is "auto" (the default, also when empty: max for accuracies, min for losses), "min" or "max".
	Mode string
	// Baseline, when not nil, is the value the monitor must beat: until an epoch improves on it the
	// wait counter is never reset, so the run stops after Patience epochs (counting from the first
	// monitored one) unless it keeps improving on its own best.
	Baseline *float64
	// RestoreBestWeights puts back, at the end of training, the weights of the epoch with the best
	// monitored value. The model must be a WeightSnapshotter.
	RestoreBestWeights bool
	// StartFromEpoch is the number of warm-up epochs (0-based epochs below it) not monitored at all.
	StartFromEpoch int
}

// Validate checks the options as the trainer's EarlyStopping takes them. Keras accepts a negative
// patience or start_from_epoch (and then behaves as with 0); here they are errors, as is an unknown
// monitor or mode.
func (o EarlyStoppingOptions) Validate() error {
	if err := checkMonitor("EarlyStopping", o.Monitor, o.Mode, o.MinDelta); err != nil {
		return err
	}
	if o.Patience < 0 || o.StartFromEpoch < 0 {
		return fmt.Errorf("EarlyStopping: negative patience %d or start_from_epoch %d", o.Patience, o.StartFromEpoch)
	}
	return nil
}

// ReduceLROnPlateauOptions are Keras 3's ReduceLROnPlateau arguments. Keras' defaults are not the
// zero value; start from DefaultReduceLROnPlateauOptions.
type ReduceLROnPlateauOptions struct {
	// Monitor is "val_loss" (also when empty), "loss", "val_accuracy" or "accuracy".
	Monitor string
	// Factor multiplies the rate at each reduction; it must be below 1, as Keras requires.
	Factor float64
	// Patience is the number of epochs without improvement after which the rate is reduced.
	Patience int
	// Mode is "auto" (also when empty), "min" or "max".
	Mode string
	// MinDelta is the smallest change that counts as an improvement (its sign is ignored).
	MinDelta float64
	// Cooldown is the number of epochs after a reduction during which the wait counter stays 0.
	Cooldown int
	// MinLR is the floor the rate is never reduced below.
	MinLR float64
}

// DefaultReduceLROnPlateauOptions are Keras 3's defaults: monitor val_loss, factor 0.1, patience 10,
// mode auto, min_delta 1e-4, cooldown 0, min_lr 0.
func DefaultReduceLROnPlateauOptions() ReduceLROnPlateauOptions {
	return ReduceLROnPlateauOptions{Monitor: "val_loss", Factor: 0.1, Patience: 10, Mode: "auto", MinDelta: 1e-4}
}

// Validate checks the options as the trainer's ReduceLROnPlateau takes them: Keras refuses a
// factor >= 1; a negative patience, cooldown or min_lr, which Keras takes without complaint, are
// errors here too.
func (o ReduceLROnPlateauOptions) Validate() error {
	if err := checkMonitor("ReduceLROnPlateau", o.Monitor, o.Mode, o.MinDelta); err != nil {
		return err
	}
	if !(o.Factor < 1) {
		return fmt.Errorf("ReduceLROnPlateau does not support a factor >= 1.0 (factor %v)", o.Factor)
	}
	if o.Patience < 0 || o.Cooldown < 0 || !(o.MinLR >= 0) || math.IsInf(o.MinLR, 0) {
		return fmt.Errorf("ReduceLROnPlateau: negative patience %d, cooldown %d or min_lr %v", o.Patience, o.Cooldown, o.MinLR)
	}
	return nil
}

// monitors are the quantities a callback may watch, named as Keras' logs name them, with the
// direction mode "auto" gives each: Keras 3 finds "loss" by name and accuracy by its metric's
// _direction ("up").
var monitors = map[string]bool{"loss": false, "accuracy": true, "val_loss": false, "val_accuracy": true}

// ResolveMonitor resolves a monitor name ("" is Keras' default, val_loss) and a mode ("" is "auto")
// to the canonical name and whether greater is better. Keras only warns about an unknown mode or a
// monitor missing from the logs; both are configuration mistakes here, so they are errors.
func ResolveMonitor(name, mode string) (canonical string, greater bool, err error) {
	if name == "" {
		name = "val_loss"
	}
	greaterIsBest, ok := monitors[name]
	if !ok {
		return "", false, fmt.Errorf("unknown monitor %q (want loss, accuracy, val_loss or val_accuracy)", name)
	}
	switch mode {
	case "", "auto":
		return name, greaterIsBest, nil
	case "min":
		return name, false, nil
	case "max":
		return name, true, nil
	}
	return "", false, fmt.Errorf("unknown mode %q (want auto, min or max)", mode)
}

func checkMonitor(callback, name, mode string, minDelta float64) error {
	if _, _, err := ResolveMonitor(name, mode); err != nil {
		return fmt.Errorf("%s: %w", callback, err)
	}
	if math.IsNaN(minDelta) || math.IsInf(minDelta, 0) {
		return fmt.Errorf("%s: min_delta %v is not finite", callback, minDelta)
	}
	return nil
}
