"""The run folder and everything written into it: atomic writes, locks, trust checks for model
files, the model card, plots, and the export folder's layout. No TensorFlow at import."""
