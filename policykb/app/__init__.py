"""The Gradio app: wiring, rendering, the page shell and the training tab."""
