package sweep

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tfsweep/tfsweep/modelfile"
	"github.com/tfsweep/tfsweep/spec"
)

// readModels reads the model files the planned runs train, each once, and gives every such run the
// file's network and the settings its grid gives (those it leaves at their defaults keep the file's
// own values), checking that they apply. A model file's own name names its runs unless the sweep file
// named the model.
func (p Plan) readModels(planned []plannedRun) error {
	files := map[string]spec.Network{}
	fileOf := map[string]string{} // model name → file
	for i := range planned {
		v := &planned[i].variant
		if v.Model.File == "" {
			continue
		}
		g := p.Grids[planned[i].grid]
		if g.sets("hidden") {
			return fmt.Errorf("%s: hidden gives the widths of the built-in mlp, not of model %s: set it in the model file", g.axes["hidden"].origin, v.Model.File)
		}
		net, ok := files[v.Model.File]
		if !ok {
			read, err := modelfile.Read(v.Model.File)
			if err != nil {
				return fmt.Errorf("%s: %w", p.origin("model"), err)
			}
			files[v.Model.File], net = read, read
		}
		if base := filepath.Base(v.Model.File); v.Model.Name == strings.TrimSuffix(base, filepath.Ext(base)) {
			v.Model.Name = net.Name
		}
		if other, ok := fileOf[v.Model.Name]; ok && other != v.Model.File {
			return fmt.Errorf("%s: models %s and %s are both named %s: run names and reports tell models apart by name; rename one (name: in a model file)",
				p.origin("model"), other, v.Model.File, v.Model.Name)
		}
		fileOf[v.Model.Name] = v.Model.File
		named := net
		named.Name = v.Model.Name
		v.Model.Network, v.Model.Given = &named, nil
		for _, key := range spec.SettingKeys() {
			if g.sets(key) {
				v.Model.Given = append(v.Model.Given, key)
			}
		}
		tellFileSettings(v, g)
		if _, err := v.Network(0, 0); err != nil { // a file's network does not depend on the data's sizes
			return fmt.Errorf("%s: model %s: %w", p.origin("model"), v.Model.File, err)
		}
	}
	return nil
}

// tellFileSettings sets the variant's init, l2 and activation, where the grid leaves them to the
// model file and the file uses one value throughout, to the file's, so that the run's name, hparams
// and config text tell what it trains (xavier is not what a Keras import's glorot_uniform kernels
// are).
func tellFileSettings(v *spec.Variant, g Grid) {
	init, l2, l2OK, activation := v.Model.Network.Uniform()
	if !g.sets("init") && init != "" {
		v.Init = string(init)
	}
	if !g.sets("l2") && l2OK {
		v.L2 = l2
	}
	if !g.sets("activation") && activation != "" {
		v.Activation = string(activation)
	}
}

// checkModel refuses a run whose network does not read the data's examples or does not give one
// probability per class.
func (p Plan) checkModel(r Run, features, classes int) error {
	if r.Model.Network == nil {
		return nil
	}
	s, err := r.Model.Network.Summary()
	if err != nil {
		return fmt.Errorf("%s: model %s: %w", p.origin("model"), r.Model.File, err)
	}
	in := r.Model.Network.Input.Shape
	if in.Elements() != features {
		return fmt.Errorf("%s: model %s reads inputs of shape %s, %d values, but the data's examples have %d: give Input the shape [%d] or an image shape of that many values",
			p.origin("model"), r.Model.File, in, in.Elements(), features, features)
	}
	if out := s.Output; len(out) != 1 || out[0] != classes {
		return fmt.Errorf("%s: model %s gives %s, but the data has %d classes: its output layer needs %d units", p.origin("model"), r.Model.File, out, classes, classes)
	}
	return nil
}

// ModelFiles lists the model files the plan's grids name, as written, without reading them: a
// server that trains sweep files from elsewhere refuses them before it opens a file of its disk.
func (p Plan) ModelFiles() []string {
	var files []string
	for _, g := range p.Grids {
		av := g.axes["model"]
		values := av.values
		if av.dist != nil {
			values = av.dist.Values
		}
		for _, v := range values {
			if m, ok := v.(spec.Model); ok && m.File != "" && !slices.Contains(files, m.File) {
				files = append(files, m.File)
			}
		}
	}
	return files
}
