"""Action policies, shipped in the package: `default.yaml` is the annotated example."""
