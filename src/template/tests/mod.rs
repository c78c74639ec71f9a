//! Tests of templates across their parts.
use super::*;

#[test]
fn scratch() {
    for text in [
        "${{ 1 + }}",
        "${{ (1 }}",
        "${{ let x = 1 }}",
        "${{ 1 +\n  * 2 }}",
        "${{ x = 1 }}",
        "${{ \"abc }}",
        "${{ |x| x + 1 }}",
        "${{ a b }}",
    ] {
        println!("{text:?} => {:?}", parse(text, Flavor::Plain).err());
    }
    let ev = Evaluator::new();
    let ctx = Context::default();
    for text in [
        "${{ tasks.build.results.dir }}",
        "${{ vars.x }}",
        "${{ eval(\"1\") }}",
        "${{ x }}",
        "${{ [1].pad(1000000, 0) }}",
        "${{ \"x\".pad(10000000, \"y\") }}",
        "${{ range(0, 1000000).reduce(|a, b| a + b) }}",
        "${{ 1e300 }}",
        "${{ print(1) }}",
        "${{ [1,2].map(|x| x * 2) }}",
    ] {
        let t = parse(text, Flavor::Plain);
        match t {
            Ok(Some(t)) => println!("{text:?} => {:?}", ev.render(&t, &ctx)),
            other => println!("{text:?} => parse {:?}", other.err()),
        }
    }
}
