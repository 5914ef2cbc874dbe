package sweep

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/tfsweep/tfsweep/trainer"
)

// Early stopping and ReduceLROnPlateau are written like schedules, "off", "on" (Keras' defaults) or
// their Keras arguments joined by ":":
//
//	patience=3:min_delta=0.001[:monitor=val_loss][:mode=auto][:baseline=0.3][:start_from_epoch=2][:restore_best_weights]
//	factor=0.5:patience=2[:min_delta=1e-4][:cooldown=1][:min_lr=1e-5][:monitor=val_loss][:mode=auto]

// EarlyStopping is the early_stopping axis' value: nil options are no early stopping.
type EarlyStopping struct{ Options *trainer.EarlyStoppingOptions }

// ReduceLR is the reduce_lr axis' value: nil options are no ReduceLROnPlateau.
type ReduceLR struct {
	Options *trainer.ReduceLROnPlateauOptions
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
	o := trainer.EarlyStoppingOptions{}
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
	if _, err := trainer.NewEarlyStopping(o); err != nil {
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
	o := trainer.DefaultReduceLROnPlateauOptions()
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
	if _, err := trainer.NewReduceLROnPlateau(o); err != nil {
		return ReduceLR{}, fmt.Errorf("%s: %w", s, err)
	}
	return ReduceLR{Options: &o}, nil
}

func formatReduceLR(r ReduceLR) string {
	o := r.Options
	if o == nil {
		return "off"
	}
	d := trainer.DefaultReduceLROnPlateauOptions()
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
