//! A minimal reader of a Strait node's Prometheus endpoint.

pub use strait_tests::metrics::scrape;

/// The sum of every sample of `name` (all label sets).
pub fn sum(body: &str, name: &str) -> f64 {
    body.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let metric = series.split_once('{').map_or(series, |(m, _)| m);
            (metric == name).then(|| value.parse::<f64>().ok())?
        })
        .sum()
}

#[cfg(test)]
mod tests {
    #[test]
    fn sums_every_series() {
        let body = "# TYPE x counter\nx{a=\"1\"} 2\nx{a=\"2\"} 3\nx_other 7\n";
        assert_eq!(super::sum(body, "x"), 5.0);
    }
}
