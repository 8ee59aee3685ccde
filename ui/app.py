import streamlit as st
st.title("Market Structure")
