//! How long `handsoff pipeline synth` takes on the largest plan the issue names: 25 regions in
//! 5 waves (target: under 50 ms, release build). `benches/run` records it.

use handsoff_release::{ReleasePlan, synth};

fn main() {
    divan::main();
}

#[divan::bench]
fn synthesize_25_regions_5_waves(bencher: divan::Bencher) {
    let text = include_str!("../tests/plans/regions-25.yaml");
    bencher.bench(|| {
        let plan = ReleasePlan::parse(divan::black_box(text)).expect("valid");
        let template = synth::template_text(&plan).expect("synthesized");
        let inputs = synth::inputs(&plan).expect("inputs");
        (template.len(), inputs.len())
    });
}
