"""The bundled starter code sets (CSV) and crosswalks loaded by ``yima demo``."""
