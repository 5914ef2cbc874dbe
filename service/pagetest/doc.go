// Package pagetest drives `tfsweep serve`'s web page in a real headless Chromium (Debian's,
// scripts/setup-chromium.sh): the page's list, progress, cancel, figures and sweep switching, its
// token message, and a page of another site that tries to queue and cancel sweeps. It is a module of
// its own so that the main module's dependencies stay what the program uses; it runs the binaries it
// builds from the main module, so it imports none of its packages.
package pagetest
