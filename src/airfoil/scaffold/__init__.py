"""`airfoil init`: a first pipeline spec inferred from the data (build), by rules over a column profile
(columns, infer, training), written as commented YAML (render)."""
