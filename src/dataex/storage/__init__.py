"""Storage: importing user files into canonical Parquet, staging, and the content-addressed store."""
